"""Connects to 127.0.0.1:PORT for each argument and prints "tcp ADDR:PORT ok|ERRNO";
with --dns, also sends one UDP datagram to 127.0.0.1:53 (a DNS query's first step);
with --sendmsg=PORT, one UDP datagram to 127.0.0.1:PORT through sendmsg(2);
with --ipv6=PORT, connects to [::1]:PORT."""
import errno
import socket
import sys

for argument in sys.argv[1:]:
    if argument.startswith("--sendmsg="):
        port = int(argument.split("=", 1)[1])
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            udp.sendmsg([b"\0"], [], 0, ("127.0.0.1", port))
            print(f"udp-sendmsg 127.0.0.1:{port} ok")
        except OSError as error:
            print(f"udp-sendmsg 127.0.0.1:{port}", errno.errorcode[error.errno])
        continue
    if argument.startswith("--ipv6="):
        port = int(argument.split("=", 1)[1])
        tcp6 = socket.socket(socket.AF_INET6)
        try:
            tcp6.connect(("::1", port))
            print(f"tcp6 [::1]:{port} ok")
        except OSError as error:
            print(f"tcp6 [::1]:{port}", errno.errorcode.get(error.errno, error.errno))
        continue
    if argument == "--dns":
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            udp.sendto(b"\0", ("127.0.0.1", 53))
            print("udp 127.0.0.1:53 ok")
        except OSError as error:
            print("udp 127.0.0.1:53", errno.errorcode[error.errno])
        continue
    tcp = socket.socket()
    tcp.settimeout(5)
    try:
        tcp.connect(("127.0.0.1", int(argument)))
        print(f"tcp 127.0.0.1:{argument} ok")
    except OSError as error:
        print(f"tcp 127.0.0.1:{argument}", errno.errorcode.get(error.errno, error.errno))
    finally:
        tcp.close()
