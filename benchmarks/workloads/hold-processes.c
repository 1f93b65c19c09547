/* Keeps N live processes: forks N children, each of which execs this
 * program again (so each is a process with its own exec and arguments)
 * and waits in pause(). Prints "ready" once all have exec'd, then holds
 * them until its stdin closes, and kills them. A child dies with its
 * parent (PR_SET_PDEATHSIG), so none outlives a killed benchmark.
 *
 *   hold-processes N */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static void ready(int sig)
{
	(void)sig;
}

int main(int argc, char **argv)
{
	if (argc > 2 && !strcmp(argv[1], "--held")) {
		/* Tell the parent this exec is done, then wait to be killed. */
		kill(getppid(), SIGUSR1);
		for (;;)
			pause();
	}
	long n = argc > 1 ? atol(argv[1]) : 10000;
	pid_t *kids = calloc(n, sizeof(*kids));
	char num[32], self[4096];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	sigset_t usr1, old;
	char buf[64];

	if (!kids || len < 0)
		return 1;
	self[len] = 0;
	signal(SIGUSR1, ready);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, &old);
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			n = i;
			break;
		}
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			sigprocmask(SIG_SETMASK, &old, NULL);
			snprintf(num, sizeof(num), "%ld", i);
			execl(self, self, "--held", num, (char *)NULL);
			_exit(127);
		}
		kids[i] = pid;
		/* One child at a time: its exec is done before the next fork. */
		sigsuspend(&old);
	}
	printf("ready %ld\n", n);
	fflush(stdout);
	while (read(0, buf, sizeof(buf)) > 0)
		;
	for (long i = 0; i < n; i++)
		kill(kids[i], SIGKILL);
	for (long i = 0; i < n; i++)
		waitpid(kids[i], NULL, 0);
	return 0;
}
