"""Holds one TCP connection to an echo server and checks every echo for SECONDS.

Exit 0 when every line came back, 1 otherwise (the connection broke or stalled).
"""
import socket
import sys
import time

host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.create_connection((host, port), timeout=2)
s.settimeout(2)
end = time.time() + seconds
i = 0
try:
    while time.time() < end:
        line = ("line %d\n" % i).encode()
        s.sendall(line)
        got = b""
        while not got.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                raise OSError("closed")
            got += chunk
        if got != line:
            raise OSError("bad echo")
        i += 1
        time.sleep(0.02)
except OSError as e:
    print("long connection failed after %d lines: %s" % (i, e))
    sys.exit(1)
print("long connection ok: %d lines" % i)
