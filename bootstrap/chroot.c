#include "chroot.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"

/* A loop device over [offset, offset + size) of fd; returns its open
 * descriptor and name, or -1. */
static int attach(int fd, uint64_t offset, uint64_t size, char *name, size_t len, char *err, size_t errlen)
{
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		snprintf(err, errlen, "/dev/loop-control: %s", strerror(errno));
		return -1;
	}
	for (int tries = 0; tries < 8; tries++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0)
			break;
		snprintf(name, len, "/dev/loop%d", n);
		int lfd = open(name, O_RDWR | O_CLOEXEC);
		if (lfd < 0)
			break;
		struct loop_config c = {.fd = (unsigned)fd};
		c.info.lo_offset = offset;
		c.info.lo_sizelimit = size;
		c.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		if (ioctl(lfd, LOOP_CONFIGURE, &c) == 0) {
			close(ctl);
			return lfd;
		}
		int e = errno;
		close(lfd);
		if (e != EBUSY) { /* EBUSY: another program took it first */
			errno = e;
			break;
		}
	}
	snprintf(err, errlen, "cannot set up a loop device over the root partition: %s", strerror(errno));
	close(ctl);
	return -1;
}

static void die(const char *what, const char *path)
{
	fprintf(stderr, "microvisor: handoff (chroot): %s %s: %s\n", what, path, strerror(errno));
	_exit(125);
}

static void bind(const char *dir, const char *what)
{
	char to[4200];
	snprintf(to, sizeof(to), "%s%s", dir, what);
	mkdir(to, 0755);
	if (mount(what, to, NULL, MS_BIND | MS_REC, NULL) != 0)
		die("cannot bind-mount", what);
}

/* The child: private mounts, the root, the binds, chroot, the command. */
static void child(const char *loop, const char *dir, const char *fstype, const char *command)
{
	if (unshare(CLONE_NEWNS) != 0)
		die("cannot enter a private mount namespace for", dir);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		die("cannot make the mounts private for", dir);
	if (mount(loop, dir, fstype, 0, NULL) != 0)
		die("cannot mount the installed root from", loop);
	bind(dir, "/dev");
	bind(dir, "/proc");
	bind(dir, "/sys");
	if (chroot(dir) != 0 || chdir("/") != 0)
		die("cannot chroot into", dir);
	setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
	execl("/bin/sh", "sh", "-c", command, (char *)NULL);
	die("cannot run /bin/sh in", "the installed root");
}

int mv_chroot_run(int disk_fd, uint64_t offset, uint64_t size, const char *fstype, const char *command,
		  char *err, size_t errlen)
{
	char loop[64], dir[] = "/tmp/microvisor-chroot.XXXXXX";
	if (!mkdtemp(dir)) {
		snprintf(err, errlen, "cannot make a directory to mount the root on: %s", strerror(errno));
		return -1;
	}
	int lfd = attach(disk_fd, offset, size, loop, sizeof(loop), err, errlen);
	int rc = -1;
	if (lfd < 0)
		goto out;
	fflush(NULL);
	struct mv_child ch;
	pid_t pid = mv_child_fork(&ch);
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		child(loop, dir, fstype, command);
	int status;
	if (mv_child_wait(&ch, &status) < 0)
		snprintf(err, errlen, "waiting for the command: %s", strerror(errno));
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		rc = 0;
	else if (WIFEXITED(status))
		snprintf(err, errlen, "the command exited with status %d", WEXITSTATUS(status));
	else
		snprintf(err, errlen, "the command was killed by signal %d", WTERMSIG(status));
out:
	if (lfd >= 0)
		close(lfd); /* the namespace is gone, so the mount is: auto-clear detaches it */
	rmdir(dir);
	return rc;
}
