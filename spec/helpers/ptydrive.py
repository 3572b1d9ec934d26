#!/usr/bin/env python3
# spec/helpers/ptydrive.py: drives `lua5.4 examples/shell.lua` on a real
# terminal (a pty of its own, its controlling terminal) as a user would:
# types commands, reads the screen, resizes the window, presses ^C, exits.
# Prints one "name: value" line per check; spec/shell_spec.lua reads them.
#   python3 spec/helpers/ptydrive.py TOP BUILD
import fcntl, os, pty, select, struct, sys, termios, time

top, build = sys.argv[1], sys.argv[2]
env = dict(os.environ, TERM="xterm",
           LUA_PATH=f"{top}/lua/?.lua;{top}/lua/?/init.lua;;",
           LUA_CPATH=f"{build}/?.so;;")
pid, fd = pty.fork()
if pid == 0:
    os.chdir(top)
    os.execvpe("lua5.4", ["lua5.4", "examples/shell.lua"], env)

screen = b""

def expect(what, timeout=60, fail=True):
    """read until `what` is on the screen (a bounded wait, not a timing check)"""
    global screen
    end = time.monotonic() + timeout
    while what not in screen:
        left = end - time.monotonic()
        if left <= 0:
            if not fail:
                return None
            print("timeout: waiting for %r, screen %r" % (what, screen[-400:]))
            sys.exit(1)
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            if not data:
                print("eof: waiting for %r, screen %r" % (what, screen[-400:]))
                sys.exit(1)
            screen += data
    at = screen.index(what) + len(what)
    seen, screen = screen[:at], screen[at:]
    return seen

def typ(text):
    os.write(fd, text.encode())

expect(b"sandbox$ ")
typ("tty; ls /dev/pts; echo done1\r")
out = expect(b"\r\ndone1\r\n")      # the output, not the echo
lines = [l.strip() for l in out.decode(errors="replace").split("\r\n")]
print("tty:", next((l for l in lines if l.startswith("/dev/")), "?"))
print("pts:", next((l for l in lines if "ptmx" in l), "?"))

# a resize of this terminal reaches the sandbox's pty
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 123, 0, 0))
typ('while [ "$(stty size)" != "40 123" ]; do sleep 0.1; done; echo resized; stty size\r')
out = expect(b"resized\r\n")
print("size:", expect(b"\r\n").decode().strip())

# ^C stops the sandbox's foreground job, not this terminal's script
typ("echo started; sleep 1000; echo after\r")
expect(b"started\r\n")
# a ^C that comes before sleep is the foreground job finds no job to stop:
# press it again until the prompt is back (each wait bounded)
for _ in range(30):
    typ("\x03")
    if expect(b"sandbox$ ", timeout=2, fail=False) is not None:
        break
typ("echo alive\r")
expect(b"alive\r\nsandbox$ ")    # output and a new prompt, not the echo
print("after ^C: shell alive")
try:
    os.kill(pid, 0)
    print("host script: alive")
except ProcessLookupError:
    print("host script: gone")

typ("exit 3\r")
expect(b"[shell exited: 3]")
_, status = os.waitpid(pid, 0)
print("exit status:", os.waitstatus_to_exitcode(status))
lflag = termios.tcgetattr(fd)[3]
print("restored:", all(lflag & f for f in (termios.ICANON, termios.ECHO, termios.ISIG)))
