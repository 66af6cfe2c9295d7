//! `laminar normalization`: the printed table of the normalisation experiment
//! (`laminar_attention::normalization`, which documents the experiment and its predictions).

use laminar_attention::normalization::{EPSILON, G, R_MAX_HZ, Report, TAU_ASTRO_MS, TAU_SYN_MS, W_RANGE_PA, warmup_ms};

/// The table `laminar normalization` prints.
pub fn text(report: &Report) -> String {
    let o = &report.options;
    let mut s = format!(
        "astro_normalized_synapse: {} rate vectors x {} Poisson inputs -> one iaf_psc_exp each (threshold out of reach)\n\
         tau_astro = {TAU_ASTRO_MS} ms, epsilon = {EPSILON}, g = {G}, weights U({}, {}) pA, tau_syn_ex = {TAU_SYN_MS} ms, \
         rates s*U(0,1)*{R_MAX_HZ} Hz with s ~ U(0.1, 1)\n\
         drive = mean I_syn_ex over {} ms after a {} ms warm-up; seed {}\n\n",
        o.vectors,
        o.inputs,
        W_RANGE_PA.0,
        W_RANGE_PA.1,
        o.measure_ms,
        warmup_ms(),
        o.seed
    );
    s.push_str(&format!(
        "{:>4} {:>10} {:>14} {:>14} {:>14} {:>8}\n",
        "vec", "sum r Hz", "sum w*r pA/s", "predicted pA", "measured pA", "error"
    ));
    for (v, r) in report.rows.iter().enumerate() {
        s.push_str(&format!(
            "{:>4} {:>10.1} {:>14.0} {:>14.4} {:>14.4} {:>7.1}%\n",
            v,
            r.sum_r_hz,
            r.sum_wr,
            r.predicted_pa,
            r.measured_pa,
            100.0 * (r.measured_pa - r.predicted_pa) / r.predicted_pa
        ));
    }
    s.push_str(&format!(
        "\nnormalised prediction c*sum(w r)/(eps + sum(g r)):\n\
         \x20 derived (no free parameter): c = tau_syn/tau_astro = {:.4}, eps = 1000*epsilon/tau_astro = {:.1} Hz   R^2 = {:.4}\n\
         \x20 fitted (least squares):      c = {:.4}, eps = {:.1} Hz   R^2 = {:.4}\n\
         unnormalised prediction a*sum(w r) + b (least squares): a = {:.3e}, b = {:.4} pA   R^2 = {:.4}\n\
         {} input spikes, {:.2} s\n",
        report.derived_c,
        report.derived_epsilon_hz,
        report.r2_derived,
        report.fit_c,
        report.fit_epsilon_hz,
        report.r2_fitted,
        report.unnormalized_a,
        report.unnormalized_b,
        report.r2_unnormalized,
        report.input_spikes,
        report.wall.as_secs_f64()
    ));
    s
}
