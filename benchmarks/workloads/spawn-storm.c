/* posix_spawn(3) of a program N times, each waited for; prints the seconds
 * taken. With DIR and K, each spawn is followed by K open(2)/close(2) of
 * DIR/f (created first).
 *
 *   spawn-storm N [PROGRAM [DIR K]]      (PROGRAM: /bin/true) */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000;
	char *prog = argc > 2 ? argv[2] : "/bin/true";
	const char *dir = argc > 3 ? argv[3] : NULL;
	long k = argc > 4 ? atol(argv[4]) : 0;
	char *args[] = { prog, NULL };
	char path[4096];
	struct timespec a, b;

	if (dir) {
		snprintf(path, sizeof(path), "%s/f", dir);
		int fd = open(path, O_WRONLY | O_CREAT, 0644);
		if (fd < 0) {
			perror(path);
			return 1;
		}
		close(fd);
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		pid_t pid;
		int status, err = posix_spawn(&pid, prog, NULL, NULL, args, environ);

		if (err) {
			fprintf(stderr, "posix_spawn %s: error %d\n", prog, err);
			return 1;
		}
		if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, "%s failed\n", prog);
			return 1;
		}
		for (long j = 0; j < k; j++) {
			int fd = open(path, O_RDONLY);
			if (fd < 0) {
				perror(path);
				return 1;
			}
			close(fd);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.6f\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
	return 0;
}
