/* child: a child process whose exit status the caller can read, whatever
 * SIGCHLD disposition it inherited. A process that ignores SIGCHLD (some
 * service managers and shells hand that on) has its children reaped
 * unseen: waitpid() fails with ECHILD and the status is lost. As
 * system(3) does, SIGCHLD gets its default from the fork to the wait, and
 * the caller's choice is put back after. */
#ifndef MV_CHILD_H
#define MV_CHILD_H
#include <signal.h>
#include <sys/types.h>

struct mv_child {
	pid_t pid;
	struct sigaction old;
};

/* fork(): 0 in the child, the child's pid in the parent, -1 (errno set,
 * SIGCHLD restored) on failure. */
pid_t mv_child_fork(struct mv_child *c);

/* Waits for the child (through EINTR) into *status and restores SIGCHLD.
 * 0, or -1 with errno set. */
int mv_child_wait(struct mv_child *c, int *status);

#endif
