// SPDX-License-Identifier: GPL-2.0
/*
 * portal-agent: runs shell commands for the host over a serial line
 * (default /dev/ttyS1; ttyS0 is the kernel console).
 *
 * Framing (binary-safe, every header line ends with '\n'; see
 * guest/README.md):
 *   host -> guest
 *     R <id> <len>\n<len bytes>   run the bytes with /bin/sh -c
 *     K <id>\n                    SIGKILL the command's process group
 *     P <token>\n                 liveness: answered with P <token>\n
 *     Q\n                         kill everything, answer BYE\n, exit
 *   guest -> host
 *     READY\n                     once, when the agent starts
 *     O <id> <len>\n<len bytes>   output (stdout and stderr merged)
 *     X <id> <code>\n             exit code (128 + signal if killed)
 *     P <token>\n, BYE\n
 *     E <message>\n               a frame the agent could not parse
 * <id> and <token> are 1..64 characters of [A-Za-z0-9_.-]; <len> and
 * <code> are decimal.  The host sends nothing before READY (bytes that reach
 * the port before the agent has set it raw may be echoed or lost).  An
 * incomplete frame that gets no more bytes for STALE_MS is discarded (with an
 * E line), so a host can always resynchronise with P.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define MAX_CMDS	32
#define MAX_HDR		256
#define MAX_BODY	(1 << 20)
#define ID_MAX		64
#define STALE_MS	2000	/* an incomplete frame idle this long is dropped */

struct cmd {
	int used;
	char id[ID_MAX + 1];
	pid_t pid;
	int out;	/* read end of the output pipe, -1 at EOF */
	int exited;
	int status;
};

static struct cmd cmds[MAX_CMDS];
static int tty = -1;
static int sigpipe_fds[2];

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void put_all(const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(tty, c, n);

		if (w < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			die("write tty");
		}
		c += w;
		n -= w;
	}
}

static void put_fmt(const char *fmt, ...)
{
	char line[MAX_HDR + 64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 1)
		n = sizeof(line) - 1;
	put_all(line, n);
}

static void on_sigchld(int sig)
{
	int saved = errno;

	(void)sig;
	if (write(sigpipe_fds[1], "c", 1) < 0) {
		/* the pipe is full: a wake-up is already pending */
	}
	errno = saved;
}

static int valid_id(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > ID_MAX)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
			return 0;
	return 1;
}

static struct cmd *find_cmd(const char *id)
{
	for (int i = 0; i < MAX_CMDS; i++)
		if (cmds[i].used && !strcmp(cmds[i].id, id))
			return &cmds[i];
	return NULL;
}

static void start_cmd(const char *id, const char *script)
{
	struct cmd *c = NULL;
	int p[2];
	pid_t pid;

	for (int i = 0; i < MAX_CMDS; i++)
		if (!cmds[i].used) {
			c = &cmds[i];
			break;
		}
	if (!c || pipe2(p, O_CLOEXEC)) {
		static const char msg[] = "portal-agent: cannot start command\n";

		put_fmt("O %s %zu\n", id, sizeof(msg) - 1);
		put_all(msg, sizeof(msg) - 1);
		put_fmt("X %s 127\n", id);
		return;
	}
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		put_fmt("X %s 127\n", id);
		return;
	}
	if (pid == 0) {
		char *env[] = { "PATH=/bin:/sbin:/usr/bin:/usr/sbin", "HOME=/",
				"TERM=dumb", NULL };
		int null = open("/dev/null", O_RDONLY);
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		setsid();
		if (null >= 0 && null != 0) {
			dup2(null, 0);
			close(null);
		}
		dup2(p[1], 1);
		dup2(p[1], 2);
		execle("/bin/sh", "sh", "-c", script, (char *)NULL, env);
		_exit(127);
	}
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	memset(c, 0, sizeof(*c));
	c->used = 1;
	snprintf(c->id, sizeof(c->id), "%s", id);
	c->pid = pid;
	c->out = p[0];
}

/* Forwards what the command's pipe holds; returns 0 at EOF. */
static int pump(struct cmd *c)
{
	char buf[4096];

	for (;;) {
		ssize_t n = read(c->out, buf, sizeof(buf));

		if (n > 0) {
			put_fmt("O %s %zd\n", c->id, n);
			put_all(buf, n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 1;
		close(c->out);
		c->out = -1;
		return 0;
	}
}

static void reap(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < MAX_CMDS; i++)
			if (cmds[i].used && cmds[i].pid == pid) {
				cmds[i].exited = 1;
				cmds[i].status = status;
			}
	}
}

static void finish_exited(void)
{
	for (int i = 0; i < MAX_CMDS; i++) {
		struct cmd *c = &cmds[i];
		int code;

		if (!c->used || !c->exited)
			continue;
		/*
		 * Everything the command wrote is in the pipe now; a
		 * background child still holding it open loses the rest.
		 */
		if (c->out >= 0) {
			pump(c);
			if (c->out >= 0) {
				close(c->out);
				c->out = -1;
			}
		}
		code = WIFEXITED(c->status) ? WEXITSTATUS(c->status) :
		       WIFSIGNALED(c->status) ? 128 + WTERMSIG(c->status) : 255;
		put_fmt("X %s %d\n", c->id, code);
		c->used = 0;
	}
}

static void kill_all(void)
{
	for (int i = 0; i < MAX_CMDS; i++)
		if (cmds[i].used && !cmds[i].exited)
			kill(-cmds[i].pid, SIGKILL);
}

/* input from the host */
static char *in;
static size_t in_len, in_cap;

/* Handles complete frames at the start of the input; returns 0 to quit. */
static int parse_input(void)
{
	for (;;) {
		char *nl = memchr(in, '\n', in_len < MAX_HDR ? in_len : MAX_HDR);
		char hdr[MAX_HDR + 1], id[MAX_HDR + 1];
		size_t hlen, used;
		unsigned long len;

		if (!nl) {
			if (in_len >= MAX_HDR) {
				put_fmt("E header too long\n");
				in_len = 0;	/* resynchronise on the next line */
			}
			return 1;
		}
		hlen = nl - in;
		memcpy(hdr, in, hlen);
		hdr[hlen] = 0;
		if (hlen && hdr[hlen - 1] == '\r')
			hdr[--hlen] = 0;
		used = nl - in + 1;

		if (hdr[0] == 'R' && hdr[1] == ' ') {
			if (sscanf(hdr + 2, "%256s %lu", id, &len) != 2 ||
			    !valid_id(id) || len > MAX_BODY) {
				put_fmt("E bad frame: %.64s\n", hdr);
			} else if (find_cmd(id)) {
				if (in_len - used < len)
					return 1;
				put_fmt("E duplicate id %s\n", id);
				used += len;
			} else {
				char *script;

				if (in_len - used < len)
					return 1;	/* body incomplete */
				script = malloc(len + 1);
				if (!script)
					die("malloc");
				memcpy(script, in + used, len);
				script[len] = 0;
				used += len;
				start_cmd(id, script);
				free(script);
			}
		} else if (hdr[0] == 'K' && hdr[1] == ' ') {
			struct cmd *c = find_cmd(hdr + 2);

			if (c && !c->exited)
				kill(-c->pid, SIGKILL);
		} else if (hdr[0] == 'P' && (hdr[1] == ' ' || !hdr[1])) {
			put_fmt("P %.64s\n", hdr[1] ? hdr + 2 : "");
		} else if (!strcmp(hdr, "Q")) {
			kill_all();
			put_fmt("BYE\n");
			tcdrain(tty);
			return 0;
		} else if (hlen) {
			put_fmt("E unknown frame: %.64s\n", hdr);
		}
		memmove(in, in + used, in_len - used);
		in_len -= used;
	}
}

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static void setup_tty(const char *dev)
{
	struct termios t;

	tty = open(dev, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (tty < 0)
		die(dev);
	if (tcgetattr(tty, &t) == 0) {
		cfmakeraw(&t);
		t.c_cflag |= CLOCAL | CREAD;
		t.c_cflag &= ~CRTSCTS;
		t.c_cc[VMIN] = 1;
		t.c_cc[VTIME] = 0;
		cfsetispeed(&t, B115200);
		cfsetospeed(&t, B115200);
		if (tcsetattr(tty, TCSANOW, &t))
			die("tcsetattr");
	}
	tcflush(tty, TCIFLUSH);
}

int main(int argc, char **argv)
{
	const char *dev = argc > 1 ? argv[1] : "/dev/ttyS1";
	struct sigaction sa = { .sa_handler = on_sigchld,
				.sa_flags = SA_RESTART | SA_NOCLDSTOP };

	setup_tty(dev);
	if (pipe2(sigpipe_fds, O_CLOEXEC | O_NONBLOCK))
		die("pipe");
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGCHLD, &sa, NULL);
	in_cap = 64 * 1024;
	in = malloc(in_cap);
	if (!in)
		die("malloc");

	long long last_input = 0;

	put_fmt("READY\n");
	for (;;) {
		struct pollfd pfd[2 + MAX_CMDS];
		struct cmd *owner[2 + MAX_CMDS];
		int n = 0, r;

		pfd[n].fd = tty;
		pfd[n++].events = POLLIN;
		pfd[n].fd = sigpipe_fds[0];
		pfd[n++].events = POLLIN;
		for (int i = 0; i < MAX_CMDS; i++) {
			if (!cmds[i].used || cmds[i].out < 0)
				continue;
			owner[n] = &cmds[i];
			pfd[n].fd = cmds[i].out;
			pfd[n++].events = POLLIN;
		}
		r = poll(pfd, n, in_len ? STALE_MS / 4 : -1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (in_len && now_ms() - last_input > STALE_MS) {
			put_fmt("E discarded %zu bytes of an incomplete frame\n",
				in_len);
			in_len = 0;
		}
		if (r == 0)
			continue;
		for (int i = 2; i < n; i++)
			if (pfd[i].revents)
				pump(owner[i]);
		if (pfd[1].revents) {
			char b[64];

			while (read(sigpipe_fds[0], b, sizeof(b)) > 0)
				;
		}
		reap();
		finish_exited();
		if (pfd[0].revents & POLLIN) {
			if (in_cap - in_len < 4096) {
				if (in_cap >= MAX_BODY + 2 * MAX_HDR) {
					put_fmt("E input overflow\n");
					in_len = 0;
				} else {
					in_cap *= 2;
					in = realloc(in, in_cap);
					if (!in)
						die("realloc");
				}
			}
			r = read(tty, in + in_len, in_cap - in_len);
			if (r > 0) {
				last_input = now_ms();
				in_len += r;
				if (!parse_input())
					break;
			}
		}
	}
	return 0;
}
