# Cordon's in-container executor: runs code for the runner inside a sandbox container.
#
# It runs as the sandbox's unprivileged user, as the child of docker-init (PID 1), from the
# container's command line (python3 -I -c <this file>), so images need only python3.
# It is NOT trusted: code in the sandbox runs as the same user and can replace it. The runner
# checks and caps everything it says, enforces the wall-clock limit itself, and learns about
# out-of-memory kills from the engine. This file only makes the common case fast: no
# `docker exec` per call, and a Python interpreter whose state lives from call to call.
#
# Channels (all under /run/cordon, a directory the runner binds in read-only):
#   executor.sock  the runner listens; we connect once, at start (gVisor's --host-uds=open
#                  lets a sandbox connect to a host socket, not listen on one). The runner
#                  accepts only the first connection, made before any code runs.
#   egress.sock    this sandbox's egress proxy channel, present only when it has egress.
#                  127.0.0.1:3128 forwards to it, so HTTP_PROXY-aware clients reach it.
# Frames both ways: a 4-byte big-endian length, then UTF-8 JSON.
#
# One program in parts, joined in this order by executor-link.ts: this file (imports and
# constants), frames.py, run-code.py (output caps, timeouts, sh), python-kernel.py (the
# notebook-like interpreter), workspace-files.py (put and get), workspace-ops.py and
# workspace-tree-ops.py (the file tools' fs.* ops), egress-forwarder.py, main.py.
# Ops: run (code), put and get (files in /workspace), fs.read, fs.write, fs.stat, fs.list,
# fs.mkdir, fs.move, fs.remove (the file tools on /workspace).
#
# Imports are few and cheap on purpose: under gVisor every module costs milliseconds to load,
# and the executor's start is on a new container's path (subprocess loads at the first sh call).
import _thread
import binascii
import errno
import json
import os
import select
import signal
import socket
import stat
import struct
import sys
import time

RUN_DIR = '/run/cordon'
MAX_REQUEST = 8 << 20
PROXY_PORT = 3128


def b64encode(data):
    return binascii.b2a_base64(data, newline=False)


def b64decode(text):
    return binascii.a2b_base64(text, strict_mode=True)
