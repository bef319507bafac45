// SPDX-License-Identifier: GPL-2.0
/*
 * portal-agent: runs shell commands for the host over a virtio-serial port
 * (default: the port named org.portal.agent, /dev/vportNpM).
 *
 * Framing (binary-safe, every header line ends with '\n'; see
 * guest/README.md):
 *   host -> guest
 *     R <id> <len>\n<len bytes>   run the bytes with /bin/sh -c (a firmware's
 *                                 pre-init names another shell and PATH:
 *                                 PORTAL_AGENT_SHELL, PORTAL_AGENT_PATH)
 *     C <id> <n>\n                the host consumed n more output bytes
 *     K <id>\n                    SIGKILL the command's process group
 *     P <token>\n                 liveness: answered with P <token>\n
 *     Q\n                         kill everything, answer BYE\n, exit
 *   guest -> host
 *     READY\n                     once, when the agent starts
 *     O <id> <len>\n<len bytes>   output (stdout and stderr merged)
 *     X <id> <code>\n             exit code (128 + signal if killed)
 *     P <token>\n, BYE\n
 *     E <message>\n               a frame the agent could not parse
 * <id> and <token> are 1..64 characters of [A-Za-z0-9_.-]; <len>, <n> and
 * <code> are decimal.  An incomplete frame that gets no more bytes for
 * STALE_MS is discarded (with an E line), so a host can always resynchronise
 * with P.
 *
 * Flow control: a command may have at most WINDOW bytes of O payload that the
 * host has not acknowledged with C.  Past that the agent stops reading the
 * command's pipe, so the command blocks in write(), and nothing piles up in
 * the agent or the host.  The port itself is written non-blocking from one
 * queue (outq), so a host that reads slowly never stops the agent from
 * reading K, P and C.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CMDS	32
#define MAX_HDR		256
#define MAX_BODY	(1 << 20)
#define ID_MAX		64
#define STALE_MS	2000	/* an incomplete frame idle this long is dropped */
#define WINDOW		(1 << 20)	/* unacknowledged output per command */
#define FRAME_MAX	(64 * 1024)	/* payload of one O frame */
#define OUT_HIGH	(256 * 1024)	/* queued: stop reading command output */
#define OUT_LIMIT	(1 << 20)	/* queued: stop reading host input */
#define PORT_WAIT_MS	10000	/* how long to wait for the port to appear */
#define ABSENT_MS	50	/* poll interval while no host is connected */
#define GATHER_BYTES	(16 * 1024)	/* less than this waiting in a pipe... */
#define GATHER_MS	2		/* ...is given this long to grow first */

struct cmd {
	int used;
	char id[ID_MAX + 1];
	pid_t pid;
	int out;	/* read end of the output pipe, -1 at EOF */
	int exited;
	int status;
	int killed;	/* K received: output is read and dropped */
	long long credit;	/* O payload bytes we may still send */
	long long gather_until;	/* pipe left alone until then (0: not gathering) */
};

static struct cmd cmds[MAX_CMDS];
static int port = -1;
static int sigpipe_fds[2];
/* The shell that runs commands and their PATH (a firmware's pre-init sets others). */
static const char *command_shell = "/bin/sh";
static char command_path[512] = "PATH=/bin:/sbin:/usr/bin:/usr/sbin";

/* Bytes for the host, written as the port accepts them. */
static char *outq;
static size_t out_head, out_len, out_cap;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static void put_all(const void *p, size_t n)
{
	if (out_head + out_len + n > out_cap) {
		memmove(outq, outq + out_head, out_len);
		out_head = 0;
		while (out_len + n > out_cap)
			out_cap *= 2;
		outq = realloc(outq, out_cap);
		if (!outq)
			die("realloc");
	}
	memcpy(outq + out_head + out_len, p, n);
	out_len += n;
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

/* Writes what the port takes now (nothing while no host is connected). */
static void flush_out(void)
{
	while (out_len) {
		ssize_t w = write(port, outq + out_head, out_len);

		if (w > 0) {
			out_head += w;
			out_len -= w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return;
		die("write port");
	}
	out_head = 0;
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
		char *env[] = { command_path, "HOME=/", "TERM=dumb", NULL };
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
		execle(command_shell, "sh", "-c", script, (char *)NULL, env);
		_exit(127);
	}
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	memset(c, 0, sizeof(*c));
	c->used = 1;
	snprintf(c->id, sizeof(c->id), "%.*s", ID_MAX, id);	/* valid_id() */
	c->pid = pid;
	c->out = p[0];
	c->credit = WINDOW;
}

enum { PUMP_EOF, PUMP_EMPTY, PUMP_HELD };

/* The pipe may be read: the host has room for it, or nobody wants it. */
static int may_read(const struct cmd *c)
{
	return c->out >= 0 && (c->killed || (c->credit > 0 && out_len < OUT_HIGH));
}

/*
 * Moves the command's pipe into O frames while credit and the queue allow.
 * Returns PUMP_EOF (pipe closed), PUMP_EMPTY (nothing more for now) or
 * PUMP_HELD (stopped for credit or a full queue).
 */
static int pump(struct cmd *c)
{
	static char buf[FRAME_MAX];

	while (may_read(c)) {
		size_t want = c->killed || c->credit > FRAME_MAX ?
			      FRAME_MAX : (size_t)c->credit;
		ssize_t n = read(c->out, buf, want);

		if (n > 0) {
			if (c->killed)
				continue;
			put_fmt("O %s %zd\n", c->id, n);
			put_all(buf, n);
			c->credit -= n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return PUMP_EMPTY;
		close(c->out);
		c->out = -1;
		return PUMP_EOF;
	}
	return c->out < 0 ? PUMP_EOF : PUMP_HELD;
}

/*
 * A producer that writes small pieces (stdio's 4 KiB, busybox head's) would
 * wake us for each one: a frame, a guest exit and a host wake-up per 4 KiB.
 * Give a running command's pipe GATHER_MS to fill before reading a little of
 * it; once per readiness, so a trickle is delayed by GATHER_MS at most.
 */
static int gathering(struct cmd *c, short revents)
{
	int queued = 0;

	if (c->gather_until) {
		c->gather_until = 0;	/* waited: read it now */
		return 0;
	}
	if (c->exited || c->killed || !(revents & POLLIN) || (revents & POLLHUP) ||
	    ioctl(c->out, FIONREAD, &queued) || queued >= GATHER_BYTES)
		return 0;
	c->gather_until = now_ms() + GATHER_MS;
	return 1;
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
		 * Everything the command wrote is in the pipe now.  Send it as
		 * credit allows (X must come after it); once the pipe is empty, a
		 * background child still holding it open loses the rest.
		 */
		if (c->out >= 0) {
			if (pump(c) == PUMP_HELD)
				continue;
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
		unsigned long long n;

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
		} else if (hdr[0] == 'C' && hdr[1] == ' ') {
			struct cmd *c;

			if (sscanf(hdr + 2, "%256s %llu", id, &n) != 2 ||
			    !valid_id(id) || n > MAX_BODY * 64ULL) {
				put_fmt("E bad frame: %.64s\n", hdr);
			} else if ((c = find_cmd(id)) && c->credit < WINDOW * 64LL) {
				/* a command that already ended ignores it */
				c->credit += n;
			}
		} else if (hdr[0] == 'K' && hdr[1] == ' ') {
			struct cmd *c = find_cmd(hdr + 2);

			/*
			 * The host has given the command up: its remaining
			 * output is dropped, so it cannot wait for credit.
			 */
			if (c) {
				if (!c->exited)
					kill(-c->pid, SIGKILL);
				c->killed = 1;
			}
		} else if (hdr[0] == 'P' && (hdr[1] == ' ' || !hdr[1])) {
			put_fmt("P %.64s\n", hdr[1] ? hdr + 2 : "");
		} else if (!strcmp(hdr, "Q")) {
			kill_all();
			put_fmt("BYE\n");
			return 0;
		} else if (hlen) {
			put_fmt("E unknown frame: %.64s\n", hdr);
		}
		memmove(in, in + used, in_len - used);
		in_len -= used;
	}
}

/*
 * Opens the virtio-serial port: a path, or a port name looked up in
 * /sys/class/virtio-ports (there is no udev to make /dev/virtio-ports/).
 * The port appears shortly after virtio_console is loaded; wait for it.
 */
static int open_port(const char *name)
{
	long long deadline = now_ms() + PORT_WAIT_MS;

	if (strchr(name, '/')) {
		int fd = open(name, O_RDWR | O_NONBLOCK | O_CLOEXEC);

		if (fd < 0)
			die(name);
		return fd;
	}
	for (;;) {
		DIR *d = opendir("/sys/class/virtio-ports");
		struct dirent *e;

		while (d && (e = readdir(d))) {
			char path[300], got[128] = "";
			FILE *f;
			int fd;

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path),
				 "/sys/class/virtio-ports/%s/name", e->d_name);
			f = fopen(path, "re");
			if (!f)
				continue;
			if (!fgets(got, sizeof(got), f))
				got[0] = 0;
			fclose(f);
			got[strcspn(got, "\n")] = 0;
			if (strcmp(got, name))
				continue;
			snprintf(path, sizeof(path), "/dev/%s", e->d_name);
			fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
			if (fd >= 0) {
				closedir(d);
				return fd;
			}
		}
		if (d)
			closedir(d);
		if (now_ms() > deadline) {
			fprintf(stderr, "portal-agent: no virtio port named %s\n",
				name);
			exit(1);
		}
		poll(NULL, 0, 10);
	}
}

/* After Q: give the host its BYE (and the rest of the queue), briefly. */
static void drain_out(void)
{
	long long deadline = now_ms() + 2000;

	while (out_len && now_ms() < deadline) {
		struct pollfd p = { .fd = port, .events = POLLOUT };

		flush_out();
		if (out_len)
			poll(&p, 1, 50);
	}
}

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : "org.portal.agent";
	const char *shell = getenv("PORTAL_AGENT_SHELL");
	const char *path = getenv("PORTAL_AGENT_PATH");
	struct sigaction sa = { .sa_handler = on_sigchld,
				.sa_flags = SA_RESTART | SA_NOCLDSTOP };
	long long last_input = 0, host_absent_until = 0;

	if (shell && *shell)
		command_shell = shell;
	if (path && *path)
		snprintf(command_path, sizeof(command_path), "PATH=%s", path);
	port = open_port(name);
	if (pipe2(sigpipe_fds, O_CLOEXEC | O_NONBLOCK))
		die("pipe");
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGCHLD, &sa, NULL);
	in_cap = 64 * 1024;
	in = malloc(in_cap);
	out_cap = OUT_HIGH + FRAME_MAX + 4096;
	outq = malloc(out_cap);
	if (!in || !outq)
		die("malloc");

	put_fmt("READY\n");
	for (;;) {
		struct pollfd pfd[2 + MAX_CMDS];
		struct cmd *owner[2 + MAX_CMDS];
		int n = 0, r, timeout = -1;
		int absent = now_ms() < host_absent_until;

		/*
		 * While no host is connected the port reports POLLHUP at once,
		 * whatever we ask for: leave it out and look again shortly.
		 * Writes would not go through then anyway (they wait for a
		 * host; nothing is lost as it is on a UART).
		 */
		pfd[n].fd = absent ? -1 : port;
		pfd[n++].events = (out_len < OUT_LIMIT ? POLLIN : 0) |
				  (out_len ? POLLOUT : 0);
		pfd[n].fd = sigpipe_fds[0];
		pfd[n++].events = POLLIN;
		long long now = now_ms();
		int gather = -1;

		for (int i = 0; i < MAX_CMDS; i++) {
			struct cmd *c = &cmds[i];

			if (!c->used || !may_read(c))
				continue;
			if (c->gather_until > now) {
				if (gather < 0 || c->gather_until - now < gather)
					gather = c->gather_until - now;
				continue;
			}
			owner[n] = c;
			pfd[n].fd = c->out;
			pfd[n++].events = POLLIN;
		}
		if (in_len)
			timeout = STALE_MS / 4;
		if (absent)
			timeout = ABSENT_MS;
		if (gather >= 0 && (timeout < 0 || gather < timeout))
			timeout = gather;
		r = poll(pfd, n, timeout);
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
			r = read(port, in + in_len, in_cap - in_len);
			if (r > 0) {
				last_input = now_ms();
				in_len += r;
				if (!parse_input())
					break;
			} else if (r == 0) {
				host_absent_until = now_ms() + ABSENT_MS;
			}
		} else if (pfd[0].revents & (POLLHUP | POLLERR)) {
			host_absent_until = now_ms() + ABSENT_MS;
		}
		for (int i = 2; i < n; i++)
			if (pfd[i].revents && !gathering(owner[i], pfd[i].revents))
				pump(owner[i]);
		if (pfd[1].revents) {
			char b[64];

			while (read(sigpipe_fds[0], b, sizeof(b)) > 0)
				;
		}
		reap();
		finish_exited();
		flush_out();
	}
	drain_out();
	return 0;
}
