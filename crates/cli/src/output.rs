//! The output directory of a run (`FORMAT.md`): `manifest.json`, `spikes.h5` and one
//! frame report per recorded variable, written while the run goes.
//!
//! [`Recorder`] is the engine's [`Observer`]: the engine hands it each exchange interval's spikes
//! and samples on the calling thread; it appends them to buffered HDF5 writers (memory stays
//! bounded). The manifest is written before the run (marked incomplete) and rewritten at the end
//! with the simulated time and whether the run completed, so an interrupted run leaves a valid,
//! self-describing directory.
//!
//! Report files are named after the variable (`V_m.h5`); when one variable is recorded for
//! several populations, each file is named `<variable>_<population>.h5`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use laminar_engine::{Observer, PopulationMeta, SpikeRecord, Step, WeightEvent};
use laminar_record::{
    FrameReportWriter, Manifest, OutputFiles, PopulationEntry, ReportEntry, SpikeWriter, WeightProjection, WeightWriter,
};

/// Spikes buffered per population before an append.
const SPIKE_CHUNK: usize = 1 << 16;
/// Frames buffered before an append.
const FRAME_CHUNK: usize = 256;

/// One variable recorded from one population.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportPlan {
    pub population: String,
    pub variable: String,
    pub units: String,
    pub interval_ms: f64,
    /// Node ids within the population, ascending.
    pub nodes: Vec<u64>,
    /// Elements per node (compartments); each element comes from its own engine recording, and
    /// the engine recordings of a plan are consecutive, in element order.
    pub elements: usize,
}

/// What ran (for the manifest).
/// A plastic projection whose weights go to `weights.h5`.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightPlan {
    /// Index of the projection in the network.
    pub projection: usize,
    pub name: String,
    pub units: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    pub model_path: String,
    pub model_text: String,
    pub seed: u64,
    pub resolution_ms: f64,
    pub duration_ms: f64,
    pub threads: usize,
    /// `--set` overrides applied on top of `model_text` (kept for provenance).
    pub overrides: Vec<String>,
    /// Where populations built by the column builder sit (layer, cell type, area, column), by
    /// population name; written into the manifest.
    pub placements: Vec<(String, laminar_record::Placement)>,
}

/// Writes a run's output directory.
pub struct Recorder {
    dir: PathBuf,
    manifest: Manifest,
    spikes: Option<SpikeWriter>,
    /// Engine population index → index in the spike file (None: spikes not recorded).
    spike_population: Vec<Option<usize>>,
    /// Per engine recording index.
    reports: Vec<FrameReportWriter>,
    /// Per engine recording: (report, element).
    report_of: Vec<(usize, usize)>,
    /// Per report: the frame being assembled from its element recordings, by step.
    pending: Vec<std::collections::BTreeMap<Step, Vec<f32>>>,
    frame: Vec<f32>,
    weights: Option<WeightWriter>,
    /// Per network projection: its group in `weights.h5`.
    weight_group: Vec<Option<usize>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").field("dir", &self.dir).finish()
    }
}

impl Recorder {
    /// Creates `dir` (it may exist; files of a previous run are replaced) and the files.
    /// `record_spikes[p]` says whether population p's spikes are recorded; `reports[r]` matches
    /// the engine's recording r.
    pub fn create(
        dir: &Path,
        info: &RunInfo,
        populations: &[PopulationMeta],
        record_spikes: &[bool],
        reports: &[ReportPlan],
        weight_plans: &[WeightPlan],
    ) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating output directory {}", dir.display()))?;
        let mut spike_population = vec![None; populations.len()];
        let mut spike_pops = Vec::new();
        for (i, p) in populations.iter().enumerate() {
            if record_spikes.get(i).copied().unwrap_or(false) {
                spike_population[i] = Some(spike_pops.len());
                spike_pops.push((p.name.clone(), p.size as u64));
            }
        }
        let spikes = if spike_pops.is_empty() {
            None
        } else {
            Some(SpikeWriter::create(&dir.join("spikes.h5"), &spike_pops, SPIKE_CHUNK)?)
        };
        let mut entries = Vec::new();
        let mut writers = Vec::new();
        let mut report_of = Vec::new();
        for r in reports {
            let shared = reports.iter().filter(|o| o.variable == r.variable).count() > 1;
            let file =
                if shared { format!("{}_{}.h5", r.variable, r.population) } else { format!("{}.h5", r.variable) };
            let elements = r.elements.max(1);
            for element in 0..elements {
                report_of.push((writers.len(), element));
            }
            writers.push(FrameReportWriter::create(
                &dir.join(&file),
                &r.population,
                &r.nodes,
                &vec![elements as u32; r.nodes.len()],
                r.interval_ms,
                r.interval_ms,
                &r.units,
                FRAME_CHUNK,
            )?);
            entries.push(ReportEntry {
                variable: r.variable.clone(),
                file,
                population: r.population.clone(),
                units: r.units.clone(),
                interval_ms: r.interval_ms,
            });
        }
        let weights = if weight_plans.is_empty() {
            None
        } else {
            let groups: Vec<WeightProjection> = weight_plans
                .iter()
                .map(|w| WeightProjection { name: w.name.clone(), units: w.units.clone() })
                .collect();
            Some(WeightWriter::create(&dir.join("weights.h5"), &groups, SPIKE_CHUNK)?)
        };
        let mut weight_group = vec![None; weight_plans.iter().map(|w| w.projection + 1).max().unwrap_or(0)];
        for (k, w) in weight_plans.iter().enumerate() {
            weight_group[w.projection] = Some(k);
        }
        let manifest = Manifest {
            format_version: [0, 1],
            laminar_version: env!("CARGO_PKG_VERSION").to_string(),
            model_path: info.model_path.clone(),
            model_text: info.model_text.clone(),
            seed: info.seed,
            resolution_ms: info.resolution_ms,
            duration_ms: info.duration_ms,
            simulated_ms: 0.0,
            completed: false,
            stopped_early_reason: None,
            threads: info.threads,
            populations: populations
                .iter()
                .map(|p| PopulationEntry {
                    name: p.name.clone(),
                    model: p.model.clone(),
                    size: p.size as u64,
                    first_gid: p.first_gid,
                    placement: info.placements.iter().find(|(n, _)| *n == p.name).map(|(_, pl)| pl.clone()),
                })
                .collect(),
            files: OutputFiles {
                spikes: spikes.as_ref().map(|_| "spikes.h5".to_string()),
                reports: entries,
                weights: weights.as_ref().map(|_| "weights.h5".to_string()),
                nodes: None,
            },
            extra: if info.overrides.is_empty() {
                Default::default()
            } else {
                let mut extra = serde_json::Map::new();
                extra.insert("overrides".into(), serde_json::json!(info.overrides));
                extra
            },
        };
        manifest.write(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            manifest,
            spikes,
            spike_population,
            pending: vec![Default::default(); writers.len()],
            reports: writers,
            report_of,
            frame: Vec::new(),
            weights,
            weight_group,
        })
    }

    /// Flushes everything and rewrites the manifest with the outcome.
    /// Lists `nodes.h5` (written by the caller) in the manifest.
    pub fn set_nodes_file(&mut self, name: &str) {
        self.manifest.files.nodes = Some(name.to_string());
    }

    pub fn finish(mut self, simulated_ms: f64, stopped_early: Option<String>) -> Result<()> {
        if let Some(s) = self.spikes.take() {
            s.finish()?;
        }
        for r in std::mem::take(&mut self.reports) {
            r.finish()?;
        }
        if let Some(w) = self.weights.take() {
            w.finish()?;
        }
        self.manifest.simulated_ms = simulated_ms;
        self.manifest.completed = stopped_early.is_none();
        self.manifest.stopped_early_reason = stopped_early;
        self.manifest.write(&self.dir)?;
        Ok(())
    }
}

impl Observer for Recorder {
    fn spikes(&mut self, spikes: &[SpikeRecord]) -> Result<(), String> {
        let Some(writer) = self.spikes.as_mut() else { return Ok(()) };
        for s in spikes {
            if let Some(p) = self.spike_population[s.population] {
                writer.push(p, s.node, s.time_ms).map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }

    fn frame(&mut self, recording: usize, step: Step, values: &[f64]) -> Result<(), String> {
        let (report, element) = self.report_of[recording];
        let elements = self.report_of.iter().filter(|(r, _)| *r == report).count();
        if elements == 1 {
            self.frame.clear();
            self.frame.extend(values.iter().map(|&v| v as f32));
            return self.reports[report].push_frame(&self.frame).map_err(|e| e.to_string());
        }
        // Elements are node-major: node i's compartments are columns i·C … i·C + C − 1.
        let frame = self.pending[report].entry(step).or_insert_with(|| vec![0.0; values.len() * elements]);
        for (i, &v) in values.iter().enumerate() {
            frame[i * elements + element] = v as f32;
        }
        if element + 1 == elements {
            let frame = self.pending[report].remove(&step).unwrap_or_default();
            self.reports[report].push_frame(&frame).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn weights(&mut self, events: &[WeightEvent]) -> Result<(), String> {
        let Some(writer) = self.weights.as_mut() else { return Ok(()) };
        for e in events {
            if let Some(Some(group)) = self.weight_group.get(e.projection) {
                writer.push(*group, e.t_ms, e.source, e.target, e.weight).map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }
}

/// A human-readable summary of an output directory (`laminar inspect`).
pub fn inspect(dir: &Path) -> Result<String> {
    let m = Manifest::read(dir)?;
    let mut s = format!(
        "{}: laminar {} — model {}, seed {}, h = {} ms, threads {}\n",
        dir.display(),
        m.laminar_version,
        m.model_path,
        m.seed,
        m.resolution_ms,
        m.threads
    );
    s.push_str(&format!(
        "simulated {} of {} ms{}\n",
        m.simulated_ms,
        m.duration_ms,
        match (&m.completed, &m.stopped_early_reason) {
            (true, _) => " (completed)".to_string(),
            (false, Some(r)) => format!(" (stopped early: {r})"),
            (false, None) => " (incomplete: the run did not finish writing)".to_string(),
        }
    ));
    s.push_str("populations:\n");
    for p in &m.populations {
        s.push_str(&format!(
            "  {:<16} {:<20} {:>9} neurons  gids {}..{}\n",
            p.name,
            p.model,
            p.size,
            p.first_gid,
            p.first_gid + p.size
        ));
    }
    if let Some(file) = &m.files.spikes {
        s.push_str(&format!("spikes ({file}):\n"));
        let secs = m.simulated_ms / 1000.0;
        for pop in laminar_record::read_spikes(&dir.join(file))? {
            let size = m.populations.iter().find(|p| p.name == pop.name).map(|p| p.size).unwrap_or(0);
            let rate = if size > 0 && secs > 0.0 { pop.timestamps.len() as f64 / size as f64 / secs } else { 0.0 };
            // Rounded to 1e-9 ms for display: step times like 999.9 are stored as
            // 999.9000000000001 (`(k+1)·h` in binary floating point).
            let shown = |t: Option<&f64>| t.map_or(f64::NAN, |t| (t * 1e9).round() / 1e9);
            let (first, last) = (shown(pop.timestamps.first()), shown(pop.timestamps.last()));
            s.push_str(&format!(
                "  {:<16} {:>10} spikes  {:>8.3} Hz mean  t in [{first}, {last}] ms  sorting {}\n",
                pop.name,
                pop.timestamps.len(),
                rate,
                pop.sorting
            ));
        }
    }
    for r in &m.files.reports {
        let rep = laminar_record::read_report(&dir.join(&r.file))?;
        let (lo, hi) = rep.data.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
        s.push_str(&format!(
            "report {} ({}): {} of {}, {} nodes, {} frames every {} ms from {} ms, range [{lo}, {hi}] {}\n",
            r.variable,
            r.file,
            r.variable,
            r.population,
            rep.node_ids.len(),
            rep.n_frames,
            rep.dt,
            rep.tstart,
            rep.units
        ));
    }
    if let Some(file) = &m.files.weights {
        for p in laminar_record::read_weights(&dir.join(file))? {
            let (lo, hi) = p.weights.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &w| (a.min(w), b.max(w)));
            s.push_str(&format!(
                "weights {} ({file}): {} transmissions, weight range [{lo}, {hi}] {}\n",
                p.projection,
                p.weights.len(),
                p.units
            ));
        }
    }
    Ok(s)
}
