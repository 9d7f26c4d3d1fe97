/* coupling.c — the coupling term R and its derivatives (coupling.h). */
#include "coupling.h"

#include <string.h>

#include "pipeline.h"

hp_status hp__coupling_create(const hp_config *c, const hp_coarse_mesh *mesh, hp__coupling *out) {
    memset(out, 0, sizeof *out);
    hp_params *p = NULL;
    HP_CALL(hp_config_section(c, "coupling", hp__coupling_params, &p));
    out->form = (hp__coupling_form)hp_params_enum_index(p, "form");
    out->tau2 = hp_params_real(p, "tau2");
    out->mesh = mesh;
    hp_status st = hp__compression_create(mesh, (int)hp_params_int(p, "window"),
                                         hp_params_enum_index(p, "window_shape") == 1 ? HP__WINDOW_DISK : HP__WINDOW_SQUARE,
                                         hp_params_real(p, "delta"), &out->Q);
    hp_params_destroy(p);
    return st;
}

void hp__coupling_destroy(hp__coupling *c) {
    hp__compression_destroy(c->Q);
    memset(c, 0, sizeof *c);
}

int hp__coupling_enabled(const hp__coupling *c) { return c->form != HP__COUPLING_NONE && c->tau2 > 0.0; }

double hp__coupling_value(const hp__coupling *c, const double *v, const double *y, double *z, double *yc,
                          const double **yhat) {
    size_t n = c->mesh->n_nodes;
    const double *w = c->mesh->weights;
    hp__compression_apply(c->Q, v, z);
    const double *yh = y;
    if (c->form == HP__COUPLING_COMPRESSED) {
        hp__compression_apply(c->Q, y, yc);
        yh = yc;
    }
    double R = 0.0;
    for (size_t k = 0; k < n; k++) {
        double e = z[k] - yh[k];
        R += w[k] * e * e;
    }
    *yhat = yh;
    return R;
}

void hp__coupling_gradient(const hp__coupling *c, const double *z, const double *yhat, double *d_v, double *d_y,
                           double *work) {
    size_t n = c->mesh->n_nodes;
    for (size_t k = 0; k < n; k++) work[k] = 2.0 * c->tau2 * c->mesh->weights[k] * (z[k] - yhat[k]);
    memset(d_v, 0, n * sizeof *d_v);
    hp__compression_apply_transpose(c->Q, work, d_v);
    /* ∂/∂y of Σ w (z − ŷ)²: −(ŷ map)ᵀ of the same weights */
    if (c->form == HP__COUPLING_COMPRESSED)
        for (size_t k = 0; k < n; k++) d_y[k] = -d_v[k];
    else
        for (size_t k = 0; k < n; k++) d_y[k] = -work[k];
}

void hp__coupling_yhat_map(const hp__coupling *c, const double *dy, double *out) {
    if (c->form == HP__COUPLING_COMPRESSED) hp__compression_apply(c->Q, dy, out);
    else memcpy(out, dy, c->mesh->n_nodes * sizeof *out);
}

void hp__coupling_yhat_map_transpose(const hp__coupling *c, const double *u, double *out) {
    if (c->form == HP__COUPLING_COMPRESSED) {
        hp__compression_apply_transpose(c->Q, u, out);
    } else {
        for (size_t k = 0; k < c->mesh->n_nodes; k++) out[k] += u[k];
    }
}
