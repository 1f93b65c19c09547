/* The pod sandbox's process for Vigil's test cluster (the "pause" image):
 * it holds the pod's namespaces, reaps any child re-parented to it, and
 * exits 0 on SIGTERM or SIGINT. Built static by build.sh. */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	sigset_t set;
	int sig;

	if (getpid() != 1)
		fprintf(stderr, "pause: not running as PID 1\n");
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			return 1;
		if (sig != SIGCHLD)
			return 0;
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
}
