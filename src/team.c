/* A team of processes training one network (cnn.h, cnn_team).  Member r of
 * K computes gradient groups [8r/K, 8(r+1)/K): one aligned subtree of the
 * groups' tree.  The members then add their subtrees in rounds, each
 * member with its partner at distance 1, 2, 4 (rank ^ distance), which
 * climbs the same tree level by level.  Both partners add the same two
 * floats, and a + b is b + a in IEEE arithmetic, so both hold the same
 * bits afterwards and every member ends with the sum one process makes.
 *
 * A layer's gradient sets off as soon as the backward has it (top layer
 * first, as the executor finishes them); later rounds go on while the
 * layers below are still being summed. */
#include "net.h"

#include <stdlib.h>
#include <string.h>

/* One member of a team: the transport, the floats arriving, and the
 * layers' gradients on their way. */
struct team_state {
    cnn_team link;
    float *recv;  /* as long as the gradients: each range lands at its place */
    struct {
        size_t from, to;
        int distance, handle; /* the round under way; 0: done */
    } *flying;
    int count, done; /* ranges posted this step, and how many finished */
    int capacity;
    const optim_update *update; /* applied to each range as it is summed */
    int failed;
};

/* At most this many exchanges travel at once (the transport's limit is
 * higher): beyond it, the oldest range finishes before another sets off. */
enum { MAX_FLYING = 64 };

static int start(team_state *t, int peer, const void *send, void *recv, size_t bytes)
{
    int h = t->failed ? -1 : t->link.start(t->link.ctx, peer, send, recv, bytes);
    t->failed |= h < 0;
    return h;
}

static void finish(team_state *t, int handle)
{
    if (!t->failed && handle >= 0 && t->link.finish(t->link.ctx, handle) < 0)
        t->failed = 1;
}

/* g += r: my partner adds the same two floats the other way round, which
 * is the same sum. */
static void add_floats(float *restrict g, const float *restrict r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        g[i] += r[i];
}

/* Whether the members [first, first + count) hold any image of a batch of
 * n: an empty subtree is absent, and its partner's sum passes unchanged. */
static int members_hold_images(const cnn_net *net, int n, int first, int count)
{
    int g0 = GRAD_GROUPS * first / net->ranks, g1 = GRAD_GROUPS * (first + count) / net->ranks;
    return group_first(n, g1) > group_first(n, g0);
}

/* 1: this round has something to exchange; 0: both sides are absent. */
static int round_has_images(const cnn_net *net, int n, int distance, int *mine, int *theirs)
{
    int me = net->rank, peer = net->rank ^ distance;
    *mine = members_hold_images(net, n, me / distance * distance, distance);
    *theirs = members_hold_images(net, n, peer / distance * distance, distance);
    return *mine || *theirs;
}

/* Starts the first round of range i at or after `distance` with anything
 * to exchange; sets distance 0 when none is left. */
static void start_round(cnn_net *net, int i, int distance)
{
    team_state *t = net->team;
    int mine, theirs;
    while (distance < net->ranks && !round_has_images(net, net->batch, distance, &mine, &theirs))
        distance *= 2;
    t->flying[i].distance = distance < net->ranks ? distance : 0;
    if (!t->flying[i].distance) {
        t->done++;
        if (t->update && !t->failed)
            optim_apply(t->update, t->flying[i].from, t->flying[i].to);
        return;
    }
    size_t from = t->flying[i].from, bytes = sizeof(float) * (t->flying[i].to - from);
    t->flying[i].handle = start(t, net->rank ^ distance, net->grads + from, t->recv + from, bytes);
}

/* Waits for range i's round, adds the partner's sum, starts the next. */
static void finish_round(cnn_net *net, int i)
{
    team_state *t = net->team;
    int distance = t->flying[i].distance, mine, theirs;
    finish(t, t->flying[i].handle);
    round_has_images(net, net->batch, distance, &mine, &theirs);
    float *g = net->grads, *r = t->recv;
    size_t from = t->flying[i].from, to = t->flying[i].to;
    if (!t->failed && mine && theirs)
        add_floats(g + from, r + from, to - from);
    else if (!t->failed && theirs)
        memcpy(g + from, r + from, sizeof(float) * (to - from));
    start_round(net, i, distance * 2);
}

/* Every range posted, through all its rounds. */
static void drain(cnn_net *net)
{
    team_state *t = net->team;
    while (t->done < t->count)
        for (int j = 0; j < t->count; j++)
            if (t->flying[j].distance)
                finish_round(net, j);
}

void team_begin_step(cnn_net *net, const optim_update *u)
{
    if (net->team)
        net->team->count = net->team->done = 0, net->team->update = u;
}

void team_post(cnn_net *net, size_t from, size_t to)
{
    team_state *t = net->team;
    if (from == to)
        return;
    if (t->count == t->capacity) { /* more pieces than foreseen: finish all */
        drain(net);
        t->count = t->done = 0;
    }
    int i = t->count++;
    t->flying[i].from = from, t->flying[i].to = to;
    /* the ranges before it move on a round while this one travels (and the
     * oldest finish, when too many are on their way) */
    for (int j = 0; j < i; j++) {
        if (t->flying[j].distance)
            finish_round(net, j);
        while (t->flying[j].distance && i - t->done > MAX_FLYING)
            finish_round(net, j);
    }
    start_round(net, i, 1);
}

int team_finish_step(cnn_net *net, cnn_error *err)
{
    drain(net);
    return team_check(net, err);
}

/* The rounds again, for the groups' own values (slot g of `size` bytes,
 * this member's filled in): each member sends the slots it knows, and
 * after the last round every member knows all of them. */
int team_gather(const cnn_net *net, void *slots, size_t size, cnn_error *err)
{
    team_state *t = net->team;
    char *at = slots, buf[GRAD_GROUPS * 64];
    if (size > 64)
        return cnn_fail(err, CNN_EINVAL, "team_gather: slots of %zu bytes", size);
    for (int d = 1; d < net->ranks; d *= 2) {
        int peer = net->rank ^ d, per = GRAD_GROUPS / net->ranks * d;
        int mine = net->rank / d * per, theirs = peer / d * per;
        finish(t, start(t, peer, at + (size_t)mine * size, buf, (size_t)per * size));
        memcpy(at + (size_t)theirs * size, buf, (size_t)per * size);
    }
    return team_check(net, err);
}

/* Counts summed over the team (integers: any order gives the same sum). */
int team_add_counts(const cnn_net *net, int *counts, size_t count, cnn_error *err)
{
    team_state *t = net->team;
    int *theirs = malloc(sizeof(int) * count + 1);
    if (!theirs)
        return cnn_fail(err, CNN_ENOMEM, "out of memory");
    for (int d = 1; d < net->ranks; d *= 2) {
        finish(t, start(t, net->rank ^ d, counts, theirs, sizeof(int) * count));
        for (size_t i = 0; !t->failed && i < count; i++)
            counts[i] += theirs[i];
    }
    free(theirs);
    return team_check(net, err);
}

/* Rank 0's parameters and dropout streams to every member: in each round
 * the lower partner's copy wins. */
static void take_rank0_params(cnn_net *net)
{
    team_state *t = net->team;
    size_t bytes = sizeof(float) * net->nparams;
    uint64_t seeds[2][64];
    for (int d = 1; d < net->ranks; d *= 2) {
        finish(t, start(t, net->rank ^ d, net->params, t->recv, bytes));
        if (!t->failed && (net->rank & d))
            memcpy(net->params, t->recv, bytes);
        for (int at = 0; at < net->count; at += 64) {
            int count = net->count - at < 64 ? net->count - at : 64;
            for (int i = 0; i < count; i++)
                seeds[0][i] = net->layers[at + i].seed;
            finish(t, start(t, net->rank ^ d, seeds[0], seeds[1], sizeof seeds[0]));
            for (int i = 0; !t->failed && (net->rank & d) && i < count; i++)
                net->layers[at + i].seed = seeds[1][i];
        }
    }
}

int cnn_net_set_team(cnn_net *net, const cnn_team *team, cnn_error *err)
{
    if (!net->work)
        return cnn_fail(err, CNN_EINVAL, "call cnn_net_init before cnn_net_set_team");
    int k = team->ranks;
    if (k != 1 && k != 2 && k != 4 && k != 8)
        return cnn_fail(err, CNN_EINVAL,
                        "a team of %d: it must be 1, 2, 4 or 8 members (each takes whole "
                        "gradient groups of the %d)", k, GRAD_GROUPS);
    if (team->rank < 0 || team->rank >= k)
        return cnn_fail(err, CNN_EINVAL, "member %d of a team of %d", team->rank, k);
    team_free(net);
    net->rank = team->rank, net->ranks = k;
    if (k == 1)
        return CNN_OK;
    team_state *t = calloc(1, sizeof *t);
    if (t) {
        t->recv = malloc(sizeof(float) * net->nparams + 1);
        t->capacity = 16 * net->count + 16; /* two ranges a piece, 8 pieces a layer */
        t->flying = calloc((size_t)t->capacity, sizeof *t->flying);
    }
    if (!t || !t->recv || !t->flying) {
        if (t)
            free(t->recv), free(t->flying);
        free(t);
        net->rank = 0, net->ranks = 1;
        return cnn_fail(err, CNN_ENOMEM, "out of memory");
    }
    t->link = *team;
    net->team = t;
    take_rank0_params(net);
    return team_check(net, err);
}

int team_check(const cnn_net *net, cnn_error *err)
{
    if (net->team && net->team->failed)
        return cnn_fail(err, CNN_ETEAM, "member %d lost the other members of its team",
                        net->rank);
    return CNN_OK;
}

void team_free(cnn_net *net)
{
    if (net->team)
        free(net->team->recv), free(net->team->flying);
    free(net->team);
    net->team = NULL;
    net->rank = 0, net->ranks = 1;
}
