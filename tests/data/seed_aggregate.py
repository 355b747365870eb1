"""The aggregation snippet of shared/seed/output-layout.md, verbatim (usage lines removed)."""

import json
import pandas as pd
from pathlib import Path

def aggregate_results(runs_root="runs"):
    runs_path = Path(runs_root)
    results = []

    for target_dir in (runs_path / "targets").iterdir():
        if not target_dir.is_dir() or not target_dir.name.startswith("tgt_"):
            continue

        # Load target metadata
        meta_file = target_dir / "meta.json"
        if not meta_file.exists():
            continue

        with open(meta_file) as f:
            meta = json.load(f)

        # Find all sampling runs
        for run_dir in target_dir.iterdir():
            if not run_dir.is_dir() or not run_dir.name.startswith("run_"):
                continue

            analysis_file = run_dir / "analysis.json"
            if not analysis_file.exists():
                continue

            with open(analysis_file) as f:
                analysis = json.load(f)

            # Combine target and run information
            record = {
                "target_id": meta["target_id"],
                "model": meta["model_cfg"].get("depth", "unknown"),
                "n_data": meta["data_cfg"]["n_data"],
                "target_params": meta["dims"]["p"],
                "L0": meta["metrics"]["L0"],
                "seed": meta["seed"],
                "sampler": run_dir.name.split("_")[1],  # Extract from run_hmc_xyz
                "llc_mean": analysis["llc_mean"],
                "llc_std": analysis["llc_std"],
                "ess": analysis["ess"],
                "rhat": analysis["rhat"],
                "walltime_sec": analysis["walltime_sec"],
            }
            results.append(record)

    return pd.DataFrame(results)
