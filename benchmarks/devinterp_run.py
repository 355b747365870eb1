"""devinterp's SGLD on a lambda-hat DLN target (run by side_by_side.py in devinterp's venv).

Not part of lambda-hat: it imports torch and devinterp only, reads the target's
``data.npz`` and ``params.npz`` and prints one JSON line (seconds of the sampling call,
λ̂, devinterp's version). devinterp 1.x: ``estimate_learning_coeff_with_summary`` with
its SGLD. devinterp 2.x samples language models only (a HuggingFace dataset of
``input_ids``, a per-token loss): each row becomes a two-token "sequence" holding its
index, and the loss function looks the row up and returns its MSE as the one token's
loss, so the same SGLD steps run through 2.x's ``llc`` (which also writes its zarr
store, part of its cost).

    python devinterp_run.py TARGET_DIR '[40,50,50,50,40]' CHAINS BURNIN DRAWS BATCH LR
"""

import json
import math
import sys
import time
import warnings
from importlib.metadata import version

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset


def dln(layers, w_star):
    """torch DLN with lambda-hat's flat w* (each layer's (out, in) matrix, row-major)."""
    mods, offset = [], 0
    for fan_in, fan_out in zip(layers[:-1], layers[1:], strict=True):
        lin = torch.nn.Linear(fan_in, fan_out, bias=False)
        size = fan_in * fan_out
        block = w_star[offset : offset + size].reshape(fan_out, fan_in)
        lin.weight.data = torch.tensor(block, dtype=torch.float32)
        mods.append(lin)
        offset += size
    assert offset == w_star.size
    return torch.nn.Sequential(*mods)


def evaluate(model, data):
    x, y = data
    return torch.nn.functional.mse_loss(model(x), y)


def devinterp_2(model, x, y, chains, burnin, draws, batch, lr):
    """(seconds, λ̂) through devinterp 2.x's language-model interface (see the docstring)."""
    import tempfile

    from datasets import Dataset
    from devinterp.slt.llc import llc

    n = x.shape[0]
    rows = Dataset.from_dict({"input_ids": [[i, i] for i in range(n)]}).with_format("torch")

    def loss_fn(model, input_ids):
        idx = input_ids[:, 0]
        residual = model(x[idx]) - y[idx]
        return (residual * residual).mean(dim=1, keepdim=True)  # (batch, 1 "token")

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        out = llc(
            model,
            rows,
            {},
            lr=lr,
            n_beta=n / math.log(n),
            localization=1.0,
            num_chains=chains,
            num_draws=draws,
            num_burnin_steps=burnin,
            batch_size=batch,
            loss_fn=loss_fn,
            output_path=f"{tmp}/samples.zarr",
        )
        seconds = time.perf_counter() - start
    return seconds, float(out["llc_mean"])


def main():
    folder, layers = sys.argv[1], json.loads(sys.argv[2])
    chains, burnin, draws, batch = map(int, sys.argv[3:7])
    lr = float(sys.argv[7])
    data, params = np.load(f"{folder}/data.npz"), np.load(f"{folder}/params.npz")
    x = torch.tensor(data["X"], dtype=torch.float32)
    y = torch.tensor(data["Y"], dtype=torch.float32)
    model = dln(layers, np.asarray(params["w_star"]))
    n = x.shape[0]
    if int(version("devinterp").split(".")[0]) >= 2:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            seconds, est = devinterp_2(model, x, y, chains, burnin, draws, batch, lr)
        print(json.dumps({"seconds": seconds, "llc": est, "version": version("devinterp")}))
        return
    from devinterp.optim.sgld import SGLD
    from devinterp.slt.sampler import estimate_learning_coeff_with_summary

    with torch.no_grad():
        init_loss = float(evaluate(model, (x, y)))
    loader = DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        out = estimate_learning_coeff_with_summary(
            model,
            loader=loader,
            evaluate=evaluate,
            sampling_method=SGLD,
            optimizer_kwargs={"lr": lr, "localization": 1.0, "nbeta": n / math.log(n)},
            num_chains=chains,
            num_draws=draws,
            num_burnin_steps=burnin,
            num_steps_bw_draws=1,
            init_loss=init_loss,
            cores=1,
            seed=0,
            verbose=False,
        )
        seconds = time.perf_counter() - start
    llc = float(out["llc/mean"])
    print(json.dumps({"seconds": seconds, "llc": llc, "version": version("devinterp")}))


if __name__ == "__main__":
    main()
