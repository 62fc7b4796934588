/* The team a command runs in (tools/team.c): alone, or one of the
 * processes mpirun started, which train or evaluate one network together. */
#ifndef CNN_TEAM_H
#define CNN_TEAM_H

#include "cli.h"

typedef struct cli_team cli_team;

/* Before the command runs: under mpirun, starts MPI (and refuses a command
 * that runs in one process, or a cnn built without MPI).  Returns 0 or the
 * exit status of a reported error. */
int cli_team_start(int *argc, char ***argv, const char *command);
/* After it, with its exit status: a member that failed ends the whole team
 * (MPI_Abort, which makes mpirun exit with rc). */
void cli_team_stop(int rc);
/* This process's rank in its team, or -1 alone. */
int cli_team_rank(void);
/* Makes net (initialised) a member of the team, if there is one; *team is
 * what cli_team_free ends (NULL alone). */
int cli_team_join(cnn_net *net, cli_team **team);
void cli_team_free(cli_team *team);
#endif
