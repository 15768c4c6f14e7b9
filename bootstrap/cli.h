/* cli: the command table, usage text and the helpers every command uses.
 * A new command is one row in the table (cli.c) and one cmd_*.c file. */
#ifndef MV_CLI_H
#define MV_CLI_H
#include <stdio.h>

#define MV_EXIT_OK 0
#define MV_EXIT_FAILED 1
#define MV_EXIT_USAGE 2

struct mv_command {
	const char *name;
	const char *usage;
	const char *summary;
	const char *help;     /* options, one per line */
	int (*run)(int argc, char **argv);
	const char *not_yet;  /* non-NULL: what is missing, said plainly */
};

const struct mv_command *mv_command_find(const char *name);
void mv_usage_all(FILE *out);
void mv_usage_command(const struct mv_command *c, FILE *out);
/* Prints "microvisor CMD: <message>" and the usage line; returns 2. */
int mv_usage_error(const struct mv_command *c, const char *fmt, const char *arg);

/* SIGINT, SIGTERM and SIGHUP go to handler (SIG_DFL to restore): the
 * commands that build something remove it when interrupted. */
void mv_catch_signals(void (*handler)(int));

/* The commands (cmd_*.c). argv[0] is the command's name. */
int mv_cmd_plan(int argc, char **argv);
int mv_cmd_inspect(int argc, char **argv);
int mv_cmd_fetch(int argc, char **argv);
int mv_cmd_image(int argc, char **argv);
int mv_cmd_install(int argc, char **argv);
int mv_cmd_flash(int argc, char **argv);
int mv_cmd_bootstrap(int argc, char **argv);
int mv_cmd_help(int argc, char **argv);

#endif
