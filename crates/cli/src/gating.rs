//! `laminar gating`: the printed report of the gating experiment (`laminar_attention::gating`,
//! which documents the experiment, the criterion and what the published parameters give).

use laminar_attention::gating::{APICAL_ALONE_LIMIT_HZ, CELL_MODEL, FIRING_ROW_HZ, Report, Winner};

fn fmt_r2(r2: Option<f64>) -> String {
    r2.map_or_else(|| "undefined (flat surface)".to_string(), |v| format!("{v:.4}"))
}

/// The printed report.
pub fn text(report: &Report) -> String {
    use std::fmt::Write;
    let e = &report.experiment;
    let g = &e.grid;
    let cell = e.cell().unwrap_or_default();
    let (tau_b, tau_a) = (cell.tau_syn_basal, cell.tau_syn_apical);
    let mean = |rate: f64, w: f64, tau: f64| rate * w * tau / 1000.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{CELL_MODEL} gating grid: {} × {} points, {} cells each, {} ms measured after {} ms, h = {} ms, seed {}, \
         {} thread(s)",
        g.somatic_rates.len(),
        g.apical_rates.len(),
        g.cells,
        g.duration_ms,
        g.warmup_ms,
        g.resolution_ms,
        e.seed,
        e.threads
    );
    if e.params.is_empty() {
        let _ = writeln!(s, "cell parameters: the published defaults (Naud & Sprekeler 2018)");
    } else {
        let set: Vec<String> = e.params.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        let _ = writeln!(s, "cell parameters: defaults, except {}", set.join(", "));
    }
    let _ = writeln!(
        s,
        "somatic drive a: Poisson on `basal`, {} pA per event (mean current = rate · {} pA · {} ms)",
        g.somatic_weight, g.somatic_weight, tau_b
    );
    let _ = writeln!(
        s,
        "apical drive b:  Poisson on `apical`, {} pA per event (mean current = rate · {} pA · {} ms)",
        g.apical_weight, g.apical_weight, tau_a
    );
    if let Some(note) = &report.range_note {
        let _ = writeln!(s, "{note}");
    }
    let header = |s: &mut String, title: &str| {
        let _ = writeln!(s, "\n{title}");
        let _ = write!(s, "{:>22}", "apical Hz →");
        for &b in &g.apical_rates {
            let _ = write!(s, "{b:>9.0}");
        }
        let _ = write!(s, "\n{:>22}", "(mean pA)");
        for &b in &g.apical_rates {
            let _ = write!(s, "{:>9}", format!("({:.0})", mean(b, g.apical_weight, tau_a)));
        }
        let _ = writeln!(s, "\n  somatic Hz (mean pA)");
    };
    let table = |s: &mut String, values: &[Vec<f64>], digits: usize| {
        for (a, row) in g.somatic_rates.iter().zip(values) {
            let _ = write!(s, "{:>13.0} {:>8}", a, format!("({:.0})", mean(*a, g.somatic_weight, tau_b)));
            for v in row {
                let _ = write!(s, "{v:>9.digits$}");
            }
            let _ = writeln!(s);
        }
    };
    header(&mut s, "output rate R(a, b), spikes per cell per second:");
    table(&mut s, &report.surface.rates, 2);
    header(&mut s, "fraction of spikes in bursts (ISI < 16 ms):");
    table(&mut s, &report.surface.burst_fraction, 2);
    let gains: Vec<Vec<f64>> = report
        .surface
        .rates
        .iter()
        .filter(|row| row[0] >= FIRING_ROW_HZ)
        .map(|row| row.iter().map(|r| r / row[0]).collect())
        .collect();
    if !gains.is_empty() {
        let _ = writeln!(s, "\ngain R(a, b) / R(a, 0) of the rows that fire without apical drive:");
        for (a, row) in g.somatic_rates.iter().zip(&report.surface.rates).filter(|(_, r)| r[0] >= FIRING_ROW_HZ) {
            let _ = write!(s, "{:>13.0} {:>8}", a, format!("({:.0})", mean(*a, g.somatic_weight, tau_b)));
            for r in row {
                let _ = write!(s, "{:>9.2}", r / row[0]);
            }
            let _ = writeln!(s);
        }
    }
    let join = |v: &[f64]| v.iter().map(|x| format!("{x:.3}")).collect::<Vec<_>>().join(", ");
    let values = g.somatic_rates.len() + g.apical_rates.len();
    let _ = writeln!(s, "\nfits ({values} values each, {} identifiable):", values - 1);
    let _ = writeln!(s, "  product  R ≈ g(a)·f(b):      R² = {}", fmt_r2(report.product.r2));
    let _ = writeln!(s, "           g(a) = [{}] Hz", join(&report.product.g));
    let _ = writeln!(s, "           f(b) = [{}]", join(&report.product.f));
    let _ = writeln!(s, "  additive R ≈ μ + α(a) + β(b): R² = {}", fmt_r2(report.additive.r2));
    let _ = writeln!(
        s,
        "           μ = {:.3} Hz, α(a) = [{}] Hz, β(b) = [{}] Hz",
        report.additive.mean,
        join(&report.additive.row),
        join(&report.additive.col)
    );
    if let Some((rows, p, a)) = report.firing_rows {
        let _ = writeln!(
            s,
            "  within the {rows} rows that fire without apical drive: product R² = {}, additive R² = {}",
            fmt_r2(p),
            fmt_r2(a)
        );
    }
    let verdict = match report.winner() {
        Winner::Product => format!(
            "multiplicative: the product model wins by ΔR² = {:.4}",
            report.product.r2.unwrap_or(0.0) - report.additive.r2.unwrap_or(0.0)
        ),
        Winner::Additive => format!(
            "additive: the additive model wins by ΔR² = {:.4}",
            report.additive.r2.unwrap_or(0.0) - report.product.r2.unwrap_or(0.0)
        ),
        Winner::Neither => "undecided: equal R², or nothing to fit".to_string(),
    };
    let _ = writeln!(s, "\nverdict: {verdict}");
    // Warnings when the grid misses the regime the criterion is about.
    let apical_alone = report.surface.rates.first().map_or(0.0, |r| r.iter().copied().fold(0.0, f64::max));
    if g.somatic_rates.first() == Some(&0.0) && apical_alone >= APICAL_ALONE_LIMIT_HZ {
        let hint = if report.range_note.is_some() { "" } else { " or use --auto-range" };
        let _ = writeln!(
            s,
            "warning: apical drive alone fires the cell (up to {apical_alone:.2} Hz ≥ {APICAL_ALONE_LIMIT_HZ} Hz): the \
             top apical levels are past the modulatory regime; lower grid.apical_rates{hint}"
        );
    }
    let somatic_alone = report.surface.rates.iter().map(|r| r[0]).fold(0.0, f64::max);
    if somatic_alone < 5.0 {
        let hint = if report.range_note.is_some() { "" } else { " or use --auto-range" };
        let _ = writeln!(
            s,
            "warning: somatic drive alone gives at most {somatic_alone:.2} Hz: the grid barely reaches the firing \
             regime; raise grid.somatic_rates{hint}"
        );
    }
    let _ = writeln!(s, "simulated in {:.2} s", report.surface.wall.as_secs_f64());
    s
}
