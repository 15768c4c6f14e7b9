/* cli: the command table, usage text and the helpers every command uses.
 * A new command is one row in the table (cli.c) and one cmd_*.c file. */
#ifndef MV_CLI_H
#define MV_CLI_H
#include <getopt.h>
#include <stdio.h>

#include "source.h"

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

/* SOURCE_DATE_EPOCH, else 0: the same inputs give the same output. */
#include <stdint.h>
int64_t mv_source_date_epoch(void);
/* SIGINT, SIGTERM and SIGHUP go to handler (SIG_DFL to restore): the
 * commands that build something remove it when interrupted. */
void mv_catch_signals(void (*handler)(int));

/* The download options image, fetch and bootstrap share: rows for their
 * getopt_long tables (keys above any letter), their parsing, their help. */
enum { MV_OPT_CACHE_DIR = 0x100, MV_OPT_OFFLINE, MV_OPT_CA_FILE, MV_OPT_DNS, MV_OPT_ALLOW_UNPINNED };
#define MV_FETCH_LONGOPTS                                                            \
	{"cache-dir", required_argument, NULL, MV_OPT_CACHE_DIR},                    \
	{"offline", no_argument, NULL, MV_OPT_OFFLINE},                              \
	{"ca-file", required_argument, NULL, MV_OPT_CA_FILE},                        \
	{"dns", required_argument, NULL, MV_OPT_DNS},                                \
	{"allow-unpinned", no_argument, NULL, MV_OPT_ALLOW_UNPINNED}
#define MV_FETCH_HELP                                                                                      \
	"  --cache-dir DIR    where downloads are kept (default $XDG_CACHE_HOME/microvisor, else ~/.cache/microvisor)\n" \
	"  --offline          use the cache only; name every source missing from it\n"                     \
	"  --ca-file FILE     trust these CA certificates for HTTPS (default: the system bundle)\n"         \
	"  --dns IP[:PORT],.. DNS servers for downloads (default: /etc/resolv.conf, else\n"                 \
	"                     $PREFIX/etc/resolv.conf, else 8.8.8.8,1.1.1.1; static build only)\n"          \
	"  --allow-unpinned   accept remote sources without SHA256= (their bytes cannot be verified)\n"
/* Stores opt when it is one of them and returns 1; 0 when it is not. */
int mv_fetch_option(int opt, const char *arg, struct mv_fetch_options *fo);
/* After parsing: --ca-file readable, --dns well-formed. 0, or the exit
 * status of the usage error it printed. */
int mv_fetch_options_check(const struct mv_command *c, const struct mv_fetch_options *fo);

/* The commands (cmd_*.c). argv[0] is the command's name. */
int mv_cmd_plan(int argc, char **argv);
int mv_cmd_inspect(int argc, char **argv);
int mv_cmd_fetch(int argc, char **argv);
int mv_cmd_image(int argc, char **argv);
int mv_cmd_bootstrap(int argc, char **argv);
int mv_cmd_help(int argc, char **argv);

#endif
