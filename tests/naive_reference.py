"""A deliberately naive, scalar re-reading of DESIGN.md section 2, for checking the reference.

Plain Python loops over images, steps, presynaptic spikes and neurons; no NumPy tricks, no
shared code with :mod:`golden.reference`.  Slow, so tests use it on small networks only.
"""

from __future__ import annotations

COUNTERS = ("steps", "input_spikes", "hidden_spikes", "output_spikes", "syn_active",
            "syn_zero", "syn_below", "syn_gated", "weight_bits_read", "membrane_updates",
            "precision_changes")


def q(w: int, bits: int) -> int:
    shift = 8 - bits
    mag = (abs(w) >> shift) << shift
    return mag if w >= 0 else -mag


def classify(counts: list[int], membranes: list[int]) -> int:
    best = 0
    for j in range(1, len(counts)):
        if (counts[j], membranes[j]) > (counts[best], membranes[best]):
            best = j
    return best


def run_image(pixels, w_hidden, w_out, *, theta_h, theta_o, leak_h, leak_o, timesteps,
              bits_h, bits_o, tau_h, tau_o, mask, block, controller=None):
    """One image; returns (pred, counts, out membranes, counters dict).

    ``controller`` (a dict with the fields of docs/controller.md, or None for static mode)
    overrides ``bits_h``/``bits_o`` with its start precisions and acts at checkpoints.
    """
    n = len(w_hidden[0])
    mask = list(mask)
    fired_ever = [False] * n
    if controller is not None:
        bits_h, bits_o = controller["start_bits_hidden"], controller["start_bits_out"]
    vh = [0] * n
    vo = [0] * 10
    counts = [0] * 10
    c = dict.fromkeys(COUNTERS, 0)

    def presynaptic_spike(row, bits, tau, post_on, block_width):
        """Count one presynaptic spike's synapse classes and bits read; return what it adds."""
        added = [0] * len(row)
        for j, w in enumerate(row):
            qw = q(int(w), bits)
            if not post_on[j]:
                c["syn_gated"] += 1
            elif qw == 0:
                c["syn_zero"] += 1
            elif abs(qw) < tau:
                c["syn_below"] += 1
            else:
                c["syn_active"] += 1
                added[j] = qw
        for start in range(0, len(row), block_width):
            members = range(start, min(start + block_width, len(row)))
            qm = q(max(abs(int(row[j])) for j in members), bits)
            c["weight_bits_read"] += 7
            if qm != 0 and qm >= tau and any(post_on[j] for j in members):
                c["weight_bits_read"] += bits * len(members)
        return added

    for t in range(timesteps):
        c["steps"] += 1
        in_spikes = [i for i, x in enumerate(pixels)
                     if ((t + 1) * int(x) + 128) >> 8 != (t * int(x) + 128) >> 8]
        c["input_spikes"] += len(in_spikes)
        for j in range(n):
            if mask[j] and leak_h:
                vh[j] -= vh[j] >> leak_h
        for i in in_spikes:
            added = presynaptic_spike(w_hidden[i], bits_h, tau_h, mask, block)
            for j in range(n):
                vh[j] += added[j]
        hid_spikes = []
        for j in range(n):
            if mask[j]:
                c["membrane_updates"] += 1
                if vh[j] > theta_h:
                    vh[j] -= theta_h
                    hid_spikes.append(j)
                    fired_ever[j] = True
        c["hidden_spikes"] += len(hid_spikes)
        for k in range(10):
            if leak_o:
                vo[k] -= vo[k] >> leak_o
        for j in hid_spikes:
            added = presynaptic_spike(w_out[j], bits_o, tau_o, [True] * 10, 10)
            for k in range(10):
                vo[k] += added[k]
        for k in range(10):
            c["membrane_updates"] += 1
            if vo[k] > theta_o:
                vo[k] -= theta_o
                counts[k] += 1
                c["output_spikes"] += 1
        if controller is None or (t + 1) % controller["interval"] or t + 1 >= timesteps:
            continue
        ranked = sorted(counts, reverse=True)
        margin = ranked[0] - ranked[1]
        if controller["exit_margin"] and margin >= controller["exit_margin"]:
            break
        if margin < controller["escalate_margin"]:
            new_h = min(8, bits_h + controller["step_bits_hidden"])
            new_o = min(8, bits_o + controller["step_bits_out"])
            if (new_h, new_o) != (bits_h, bits_o):
                c["precision_changes"] += 1
            bits_h, bits_o = new_h, new_o
        if controller["gate_idle"]:
            mask = [mask[j] and fired_ever[j] for j in range(n)]
        if controller.get("gate_blocks", 0):
            for start in range(0, n, block):
                members = range(start, min(start + block, n))
                if sum(fired_ever[j] for j in members) < controller["gate_blocks"]:
                    for j in members:
                        mask[j] = False
    return classify(counts, vo), counts, vo, c
