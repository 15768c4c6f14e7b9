#include "child.h"

#include <errno.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>

pid_t mv_child_fork(struct mv_child *c)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigemptyset(&dfl.sa_mask);
	sigaction(SIGCHLD, &dfl, &c->old);
	c->pid = fork();
	if (c->pid < 0) {
		int e = errno;
		sigaction(SIGCHLD, &c->old, NULL);
		errno = e;
	}
	return c->pid;
}

int mv_child_wait(struct mv_child *c, int *status)
{
	pid_t got;
	*status = 0;
	while ((got = waitpid(c->pid, status, 0)) < 0 && errno == EINTR)
		;
	int e = errno;
	sigaction(SIGCHLD, &c->old, NULL);
	errno = e;
	return got < 0 ? -1 : 0;
}
