//! The `[simulation]` table.

use laminar_engine::Resolution;

use super::Loader;
use crate::SimulationSection;
use crate::document::{Origin, TableRef};
use crate::error::Res;

impl Loader<'_> {
    pub(crate) fn simulation(&self, top: &TableRef) -> Res<SimulationSection> {
        let Some(entry) = top.get("simulation") else {
            return Err(self.error(
                &Origin::Unknown,
                "simulation",
                "missing [simulation] table (it needs at least duration_ms)",
            ));
        };
        let t = self.as_table(&entry.item, "simulation")?;
        self.check_keys(&t, &["resolution_ms", "duration_ms", "seed", "threads", "weight_precision"])?;
        let (resolution_ms, resolution) = match t.get("resolution_ms") {
            Some(e) => {
                let f = t.field("resolution_ms");
                let h = self.as_number(&e.item, &f)?;
                let r =
                    Resolution::new(h).map_err(|_| self.bad_value(&e.item, &f, "must be a finite number > 0 ms"))?;
                (h, r)
            }
            None => (
                0.1,
                Resolution::new(0.1).map_err(|e| self.error(t.origin, "simulation.resolution_ms", e.to_string()))?,
            ),
        };
        let d = t.get("duration_ms").ok_or_else(|| self.missing(&t, "duration_ms", "the simulated time in ms, > 0"))?;
        let f = t.field("duration_ms");
        let duration_ms = self.as_number(&d.item, &f)?;
        if duration_ms <= 0.0 {
            return Err(self.bad_value(&d.item, &f, "must be a finite number > 0 ms"));
        }
        let duration_steps = self.steps(&d.item, &f, duration_ms, resolution)?;
        let seed = match t.get("seed") {
            Some(e) => self.as_count(&e.item, &t.field("seed"), 0, u64::MAX)?,
            None => 1,
        };
        let threads = match t.get("threads") {
            Some(e) => self.as_count(&e.item, &t.field("threads"), 1, 4096)? as usize,
            None => 1,
        };
        let single_precision_weights = match t.get("weight_precision") {
            None => false,
            Some(e) => {
                let f = t.field("weight_precision");
                match self.as_str(&e.item, &f)? {
                    "double" => false,
                    "single" => true,
                    _ => {
                        return Err(self.bad_value(&e.item, &f, "must be \"double\" or \"single\""));
                    }
                }
            }
        };
        Ok(SimulationSection {
            resolution_ms,
            duration_ms,
            seed,
            threads,
            single_precision_weights,
            resolution,
            duration_steps,
        })
    }
}
