#!/bin/bash
source "$(dirname "$0")/lib.sh"
t_setup
