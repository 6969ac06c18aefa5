#!/usr/bin/python3
# ssh's ProxyCommand for the "upload killed halfway" tests: relays stdin to
# HOST:PORT and back, the upload direction at most RATE bytes a second, so a
# test can stop an upload in the middle. A slow link, not a fake peer.
import socket, sys, threading, time

host, port, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.create_connection((host, port))

def down():
    while True:
        data = s.recv(65536)
        if not data:
            break
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()

threading.Thread(target=down, daemon=True).start()
chunk = max(1, rate // 20)
while True:
    data = sys.stdin.buffer.read1(chunk)
    if not data:
        break
    s.sendall(data)
    time.sleep(len(data) / rate)
s.shutdown(socket.SHUT_WR)
time.sleep(1)
