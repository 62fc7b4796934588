/* A team of members training one network (cnn_net_set_team), each member a
 * thread of this test with its own network, linked in memory: K members
 * end with the same bits as one process, for every K, optimiser, batch
 * size and thread count.  (tests/cli/mpi.sh does the same across MPI
 * processes.) */
#include "cnn.h"
#include "net.h"
#include "test.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- a team in memory: exchange k between members a and b is done when
 * both have copied the other's bytes ------------------------------------- */

enum { MAX_MEMBERS = 8, MAX_EXCHANGES = 4096 };

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct {
        const void *send;
        void *recv;
        size_t bytes;
        int peer, copied; /* copied: the peer has taken this send */
    } posted[MAX_MEMBERS][MAX_EXCHANGES];
    int count[MAX_MEMBERS][MAX_MEMBERS]; /* exchanges member a posted to b */
    int seq[MAX_MEMBERS][MAX_EXCHANGES]; /* handle -> its number with the peer */
    int handles[MAX_MEMBERS];
    int broken; /* a member that stops answering (the failure test) */
} memory_link;

typedef struct {
    memory_link *link;
    int rank;
} member_link;

static int find_posted(memory_link *m, int from, int to, int seq)
{
    int k = 0;
    for (int h = 0; h < m->handles[from]; h++)
        if (m->posted[from][h].peer == to && k++ == seq)
            return h;
    return -1;
}

static int link_start(void *ctx, int peer, const void *send, void *recv, size_t bytes)
{
    member_link *me = ctx;
    memory_link *m = me->link;
    pthread_mutex_lock(&m->lock);
    int h = m->handles[me->rank]++;
    m->posted[me->rank][h].send = send, m->posted[me->rank][h].recv = recv;
    m->posted[me->rank][h].bytes = bytes, m->posted[me->rank][h].peer = peer;
    m->posted[me->rank][h].copied = 0;
    m->seq[me->rank][h] = m->count[me->rank][peer]++;
    pthread_cond_broadcast(&m->changed);
    pthread_mutex_unlock(&m->lock);
    return h;
}

static int link_finish(void *ctx, int h)
{
    member_link *me = ctx;
    memory_link *m = me->link;
    pthread_mutex_lock(&m->lock);
    int peer = m->posted[me->rank][h].peer, theirs;
    while ((theirs = find_posted(m, peer, me->rank, m->seq[me->rank][h])) < 0 && !m->broken)
        pthread_cond_wait(&m->changed, &m->lock);
    if (theirs >= 0) {
        memcpy(m->posted[me->rank][h].recv, m->posted[peer][theirs].send,
               m->posted[me->rank][h].bytes);
        m->posted[peer][theirs].copied = 1;
        pthread_cond_broadcast(&m->changed);
        while (!m->posted[me->rank][h].copied && !m->broken)
            pthread_cond_wait(&m->changed, &m->lock);
    }
    int rc = m->posted[me->rank][h].copied ? 0 : -1;
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* ---- K members training ------------------------------------------------- */

typedef struct {
    const char *spec;
    int optimizer, batch, steps, threads, rank, ranks, data_n;
    memory_link *link;
    float *params; /* out: the parameters after training */
    size_t count;
    float loss;
    int rc;
} training;

static void images(float *x, cnn_label *labels, int n, int size)
{
    cnn_rng r;
    cnn_rng_seed(&r, 77);
    for (int i = 0; i < n * size; i++)
        x[i] = (float)(2 * cnn_rng_uniform(&r) - 1);
    for (int i = 0; i < n; i++)
        labels[i] = (cnn_label)(cnn_rng_next(&r) % 3);
}

static void *train_member(void *arg)
{
    training *t = arg;
    cnn_error err;
    cnn_train_config cfg = cnn_train_defaults();
    cfg.optimizer = (cnn_optimizer)t->optimizer, cfg.lr = 0.05f, cfg.momentum = 0.9f;
    cnn_net *net = cnn_net_parse(t->spec, NULL, &err);
    cnn_net_set_threads(net, t->threads);
    /* each member draws other weights: the team takes rank 0's */
    t->rc = cnn_net_init(net, t->batch, 3 + (uint64_t)t->rank, &err);
    member_link me = {t->link, t->rank};
    cnn_team team = {t->rank, t->ranks, link_start, link_finish, &me};
    if (t->rc == 0 && t->ranks > 1)
        t->rc = cnn_net_set_team(net, &team, &err);
    cnn_optim *opt = cnn_optim_new(net, &cfg, &err);
    int size = (int)cnn_shape_size(cnn_net_input_shape(net));
    float *x = malloc(sizeof(float) * (size_t)t->data_n * size);
    cnn_label *labels = malloc(sizeof *labels * (size_t)t->data_n);
    images(x, labels, t->data_n, size);
    for (int s = 0, at = 0; t->rc == 0 && s < t->steps; s++) {
        int n = t->data_n - at < t->batch ? t->data_n - at : t->batch;
        t->rc = cnn_train_batch(net, opt, x + (size_t)at * size, labels + at, n, 0, &t->loss,
                                NULL, &err);
        at = (at + n) % t->data_n;
    }
    t->count = cnn_net_param_count(net);
    t->params = malloc(sizeof(float) * t->count);
    memcpy(t->params, cnn_net_params(net), sizeof(float) * t->count);
    cnn_optim_free(opt);
    cnn_net_free(net);
    free(x), free(labels);
    return NULL;
}

/* Trains alone (ranks 1) or as a team of `ranks` threads; member 0's
 * parameters (all members' are checked equal) and its last loss. */
static float *train_team(training base, int ranks, float *loss, size_t *count, int *rc)
{
    memory_link *link = calloc(1, sizeof *link);
    pthread_mutex_init(&link->lock, NULL);
    pthread_cond_init(&link->changed, NULL);
    training t[MAX_MEMBERS];
    pthread_t th[MAX_MEMBERS];
    for (int r = 0; r < ranks; r++) {
        t[r] = base;
        t[r].rank = r, t[r].ranks = ranks, t[r].link = link;
        pthread_create(&th[r], NULL, train_member, &t[r]);
    }
    *rc = 0;
    for (int r = 0; r < ranks; r++) {
        pthread_join(th[r], NULL);
        *rc |= t[r].rc;
    }
    for (int r = 1; r < ranks; r++) {
        if (memcmp(t[r].params, t[0].params, sizeof(float) * t[0].count) ||
            memcmp(&t[r].loss, &t[0].loss, sizeof t[0].loss))
            *rc = -100;
        free(t[r].params);
    }
    *loss = t[0].loss, *count = t[0].count;
    pthread_mutex_destroy(&link->lock);
    pthread_cond_destroy(&link->changed);
    free(link);
    return t[0].params;
}

static const char *DROPOUT_NET = "input 6x6x2 mean 0 std 1\n"
                                 "conv 4 3x3 pad 1\nrelu\nmaxpool 2\n"
                                 "dense 7\nrelu\ndropout 0.3\ndense 3\nsoftmax\n";
/* 16 channels in and out, 3x3, stride 1: computed by Winograd */
static const char *WINOGRAD_NET = "input 6x6x1 mean 0 std 1\n"
                                  "conv 16 3x3 pad 1\nrelu\nconv 16 3x3 pad 1\nrelu\n"
                                  "maxpool 2\ndense 3\nsoftmax\n";

TEST(a_team_of_2_4_8_gives_one_process_bits)
{
    const char *nets[2] = {DROPOUT_NET, WINOGRAD_NET};
    const int batches[4] = {16, 13, 5, 1}; /* even, uneven, fewer than 8, one */
    for (int ni = 0; ni < 2; ni++)
        for (int opt = CNN_SGD; opt <= CNN_ADAM; opt++)
            for (int bi = 0; bi < 4; bi++) {
                /* 3 batches and a short last one */
                training base = {.spec = nets[ni], .optimizer = opt, .batch = batches[bi],
                                 .steps = 4, .threads = 1, .ranks = 1,
                                 .data_n = 3 * batches[bi] + (batches[bi] + 1) / 2};
                float alone_loss, loss;
                size_t count, n;
                int rc;
                float *alone = train_team(base, 1, &alone_loss, &count, &rc);
                CHECK(rc == 0);
                for (int ranks = 2; ranks <= 8; ranks *= 2)
                    for (int threads = 1; threads <= 2; threads++) {
                        base.threads = threads;
                        float *team = train_team(base, ranks, &loss, &n, &rc);
                        if (rc == 0 && (n != count ||
                                        memcmp(team, alone, sizeof(float) * count) ||
                                        memcmp(&loss, &alone_loss, sizeof loss)))
                            rc = -200;
                        if (rc)
                            printf("  net %d optimiser %d batch %d: %d members x %d threads: "
                                   "%s\n", ni, opt, batches[bi], ranks, threads,
                                   rc == -200 ? "other bits than one process"
                                   : rc == -100 ? "the members differ" : "failed");
                        free(team);
                        CHECK(rc == 0);
                    }
                free(alone);
            }
}
