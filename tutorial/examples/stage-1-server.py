"""Stage 1 in Python: listen on the port given with --port, accept clients
one at a time, and keep each connection open until its client leaves.

Register it as your program, from the course's folder:
    just register "python3 tutorial/examples/stage-1-server.py"
"""

import socket
import sys


def port_from_arguments():
    """The number after --port (6379, Redis's port, when there is none)."""
    args = sys.argv[1:]
    if "--port" in args:
        return int(args[args.index("--port") + 1])
    return 6379


def main():
    port = port_from_arguments()
    listener = socket.create_server(("127.0.0.1", port))
    print(f"listening on 127.0.0.1:{port}", flush=True)
    while True:
        client, (host, client_port) = listener.accept()
        print(f"{host}:{client_port} connected", flush=True)
        # Read until the client leaves (an empty read); ignore what it sends.
        while client.recv(4096):
            pass
        client.close()
        print(f"{host}:{client_port} left", flush=True)


main()
