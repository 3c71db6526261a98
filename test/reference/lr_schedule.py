"""torch.optim.lr_scheduler's learning rates, one per optimizer step, for alexc's schedules.

Usage: lr_schedule.py '<json list of [spec, STEPS]>'
spec: {"kind": "constant"|"step"|"cosine"|"onecycle", "lr": ..., and the schedule's fields}
Prints a JSON list with one list per [spec, STEPS]: element k is the lr optimizer step k
(0-based) runs with, i.e. the scheduler's get_last_lr() after k calls of scheduler.step() (one per
optimizer step). Several schedules in one call: the test pays for importing torch once.
"""
import json
import sys
import warnings

import torch
from torch.optim import lr_scheduler as S

warnings.simplefilter("ignore")  # SequentialLR's step(0) at the milestone warns


def lrs_of(spec, steps):
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=spec["lr"], momentum=0.9)
    kind = spec["kind"]
    if kind == "constant":
        sched = S.ConstantLR(opt, factor=1.0, total_iters=0)
    elif kind == "step":
        sched = S.StepLR(opt, step_size=spec["stepSize"], gamma=spec["gamma"])
    elif kind == "cosine":
        w = spec["warmupSteps"]
        cosine_steps = spec["totalSteps"] - w
        if w == 0:
            sched = S.CosineAnnealingLR(opt, T_max=cosine_steps, eta_min=spec["minLr"])
        else:
            warm = S.LinearLR(opt, start_factor=spec["warmupStartFactor"], end_factor=1.0, total_iters=w)
            cos = S.CosineAnnealingLR(opt, T_max=cosine_steps, eta_min=spec["minLr"])
            sched = S.SequentialLR(opt, [warm, cos], milestones=[w])
    elif kind == "onecycle":
        sched = S.OneCycleLR(opt, max_lr=spec["lr"], total_steps=spec["totalSteps"], pct_start=0.3,
                             anneal_strategy="cos", div_factor=25.0, final_div_factor=1e4, three_phase=False)
    else:
        raise SystemExit(f"unknown schedule {kind}")
    lrs = []
    for k in range(steps):
        lrs.append(sched.get_last_lr()[0])
        if k + 1 < steps:
            opt.step()
            sched.step()
    return lrs


print(json.dumps([lrs_of(spec, steps) for spec, steps in json.loads(sys.argv[1])]))
