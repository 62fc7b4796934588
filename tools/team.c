/* The team a command runs in: alone, or one member of a team of processes
 * started by mpirun, when cnn is built with MPI (make MPI=1, which defines
 * CNN_MPI).  The library does the arithmetic of a team (src/team.c); here
 * is only how its members reach each other: MPI point-to-point messages. */
#include "team.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef CNN_MPI
#include <mpi.h>
#endif

/* What the launcher says of this process: rank and size (1 alone).
 * OpenMPI's mpirun, or a PMI launcher (MPICH's, Slurm's). */
static int launched(int *rank)
{
    const char *size = getenv("OMPI_COMM_WORLD_SIZE"), *r = getenv("OMPI_COMM_WORLD_RANK");
    if (!size)
        size = getenv("PMI_SIZE"), r = getenv("PMI_RANK");
    *rank = r ? atoi(r) : 0;
    return size ? atoi(size) : 1;
}

int cli_team_rank(void)
{
    int rank;
    return launched(&rank) > 1 ? rank : -1;
}

int cli_team_start(int *argc, char ***argv, const char *command)
{
    int rank, size = launched(&rank);
    if (size <= 1)
        return 0;
    int member = strcmp(command, "train") == 0 || strcmp(command, "eval") == 0;
#ifdef CNN_MPI
    int level;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &level) != MPI_SUCCESS ||
        level < MPI_THREAD_FUNNELED)
        return cli_error(EXIT_FAIL, "MPI could not start with threads");
    if (!member) {
        MPI_Finalize();
        return cli_error(EXIT_USAGE, "cnn %s runs in one process (under mpirun: train, eval)",
                         command);
    }
    return 0;
#else
    (void)argc, (void)argv, (void)member;
    return cli_error(EXIT_USAGE,
                     "this cnn was built without MPI, so it cannot be one of %d processes: "
                     "build it with make MPI=1",
                     size);
#endif
}

void cli_team_stop(int rc)
{
    /* A failure that every member has (a wrong option, a diverged loss)
     * member 0 reports; the others give it a second to, so that one says
     * it before mpirun takes the job down at the first exit. */
    int rank;
    if (rc && launched(&rank) > 1 && rank > 0)
        sleep(1);
#ifdef CNN_MPI
    int on = 0, off = 0;
    MPI_Initialized(&on);
    MPI_Finalized(&off);
    if (!on || off)
        return;
    /* A member that failed (its message said why) takes the others down,
     * rather than leave them waiting for its next message. */
    if (rc)
        MPI_Abort(MPI_COMM_WORLD, rc);
    MPI_Finalize();
#endif
}

#ifdef CNN_MPI
/* The exchanges under way: a send and a receive each, by handle. */
enum { EXCHANGES = 256 };
struct cli_team {
    MPI_Request req[EXCHANGES][2];
    int next;
};

static int mpi_start(void *ctx, int peer, const void *send, void *recv, size_t bytes)
{
    cli_team *t = ctx;
    int h = t->next;
    if (bytes > INT_MAX || t->req[h][0] != MPI_REQUEST_NULL)
        return -1;
    t->next = (h + 1) % EXCHANGES;
    if (MPI_Irecv(recv, (int)bytes, MPI_BYTE, peer, 0, MPI_COMM_WORLD, &t->req[h][1]) ||
        MPI_Isend(send, (int)bytes, MPI_BYTE, peer, 0, MPI_COMM_WORLD, &t->req[h][0]))
        return -1;
    return h;
}

static int mpi_finish(void *ctx, int h)
{
    cli_team *t = ctx;
    return MPI_Waitall(2, t->req[h], MPI_STATUSES_IGNORE) == MPI_SUCCESS ? 0 : -1;
}
#endif

int cli_team_join(cnn_net *net, cli_team **team)
{
    *team = NULL;
#ifdef CNN_MPI
    int on = 0;
    MPI_Initialized(&on);
    if (!on)
        return 0;
    cli_team *t = calloc(1, sizeof *t);
    if (!t)
        return cli_error(EXIT_FAIL, "out of memory");
    for (int h = 0; h < EXCHANGES; h++)
        t->req[h][0] = t->req[h][1] = MPI_REQUEST_NULL;
    cnn_team link = {0, 1, mpi_start, mpi_finish, t};
    MPI_Comm_rank(MPI_COMM_WORLD, &link.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &link.ranks);
    cnn_error err;
    *team = t;
    if (cnn_net_set_team(net, &link, &err))
        return cli_error(EXIT_USAGE, "%s", err.msg);
#else
    (void)net;
#endif
    return 0;
}

void cli_team_free(cli_team *team) { free(team); }

