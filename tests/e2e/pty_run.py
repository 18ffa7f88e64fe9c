"""Runs argv on a new pseudo-terminal, types keys, prints the screen and 'EXIT <code>'.

keys: a JSON list; "WAIT:text" waits until text appears on the screen, "SIZE:rows,cols" resizes the
terminal, anything else is typed. After the exit line, "TERMIOS icanon=N echo=N" shows whether the
terminal's settings came back.
"""
import fcntl, json, os, pty, select, struct, sys, termios, time

keys, argv = json.loads(sys.argv[1]), sys.argv[2:]
def resize(rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
resize(33, 111)
screen = b""
deadline = time.time() + 60

def pump(timeout):
    global screen
    r, _, _ = select.select([fd], [], [], timeout)
    if r:
        try:
            data = os.read(fd, 4096)
        except OSError:
            return False
        if not data:
            return False
        screen += data
    return True

for k in keys:
    if k.startswith("SIZE:"):
        resize(*map(int, k[5:].split(",")))
    elif k.startswith("WAIT:"):
        want = k[5:].encode()
        while want not in screen and time.time() < deadline:
            if not pump(0.1):
                break
    else:
        os.write(fd, k.encode())
done, status = 0, 0
while time.time() < deadline:
    alive = pump(0.1)
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        while pump(0.05):
            pass
        break
    if not alive:
        time.sleep(0.05)
if not done:
    # Never hang the test suite: report the screen so far, and a timeout.
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    sys.stdout.write(screen.decode(errors="replace") + "\nTIMEOUT\n")
    sys.exit(1)
sys.stdout.write(screen.decode(errors="replace"))
sys.stdout.write("\nEXIT %d\n" % os.waitstatus_to_exitcode(status))
lflag = termios.tcgetattr(fd)[3]
sys.stdout.write("TERMIOS icanon=%d echo=%d\n" % (bool(lflag & termios.ICANON), bool(lflag & termios.ECHO)))
