/* The reduction's cost on this machine's transport: two MPI processes
 * exchange N floats with MPI_Isend/MPI_Irecv and add them, as one round of
 * a team's gradient sum does (src/team.c), for the sizes given.  Prints one
 * JSON line per size: the median seconds per round and the bandwidth
 * (bytes each way / second).  Built and run by bench/team.sh:
 *   mpicc -O2 bench/exchange.c -o exchange && mpirun -np 2 ./exchange N... */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    enum { ROUNDS = 41 };
    for (int a = 1; a < argc; a++) {
        long n = atol(argv[a]);
        float *g = calloc((size_t)n, sizeof(float)), *r = calloc((size_t)n, sizeof(float));
        double t[ROUNDS];
        for (int k = 0; k < ROUNDS; k++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            MPI_Request q[2];
            MPI_Irecv(r, (int)(n * 4), MPI_BYTE, rank ^ 1, 0, MPI_COMM_WORLD, &q[0]);
            MPI_Isend(g, (int)(n * 4), MPI_BYTE, rank ^ 1, 0, MPI_COMM_WORLD, &q[1]);
            MPI_Waitall(2, q, MPI_STATUSES_IGNORE);
            for (long i = 0; i < n; i++)
                g[i] += r[i];
            t[k] = MPI_Wtime() - t0;
        }
        qsort(t, ROUNDS, sizeof t[0], by_value);
        if (rank == 0)
            printf("{\"floats\":%ld,\"bytes\":%ld,\"round_s\":%.6g,\"bandwidth_GBps\":%.3f}\n", n,
                   n * 4, t[ROUNDS / 2], n * 4 / t[ROUNDS / 2] / 1e9);
        free(g), free(r);
    }
    MPI_Finalize();
    return 0;
}
