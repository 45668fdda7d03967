"""The genn-eventprop command line. Thin: parse, call the library, print.

Every UserError (bad config, missing or corrupt data, too small a spike buffer) is printed as one line
on stderr and the command exits with code 2.
"""
from __future__ import annotations

import functools
import os
import sys

import click

from genn_eventprop.errors import UserError


def user_errors(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except UserError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(2)
    return wrapper


@click.group()
@click.version_option(package_name="genn-eventprop")
def main():
    """Train spiking neural networks with exact gradients (EventProp), compiled to C++ or GeNN."""


set_option = click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                          help="Override a config key, e.g. --set model.hidden.size=512 (repeatable).")


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder for the code.")
@click.option("--backend", type=click.Choice(["native", "genn"]), default="native", show_default=True)
@set_option
@user_errors
def codegen(config, out_dir, backend, overrides):
    """Write the generated code of CONFIG's network, exactly as it runs."""
    from genn_eventprop.config import load_config
    from genn_eventprop.pipeline import write_code

    cfg = load_config(config, overrides)
    for path in write_code(cfg, out_dir, backend):
        click.echo(path)


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@set_option
@user_errors
def gradcheck(config, overrides):
    """Compare every weight's EventProp gradient with central finite differences (float64).

    Exit status 1 when any connection's relative error is above gradcheck.tolerance.
    """
    from genn_eventprop.config import load_config
    from genn_eventprop.pipeline import run_gradcheck

    cfg = load_config(config, overrides)
    report = run_gradcheck(cfg)
    for line in report.lines():
        click.echo(line)
    sys.exit(0 if report.passed else 1)


@main.command()
@click.argument("config", type=click.Path(dir_okay=False), required=False)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Run folder (default: runs/<config name>).")
@click.option("--resume", "resume_dir", type=click.Path(file_okay=False),
              help="Continue the run in this folder from its last finished epoch.")
@set_option
@user_errors
def train(config, out_dir, resume_dir, overrides):
    """Train the network CONFIG describes; everything lands in one run folder."""
    from genn_eventprop.config import load_config, save_config
    from genn_eventprop.train import Trainer

    if resume_dir:
        saved = os.path.join(resume_dir, "config.yaml")
        if not os.path.exists(saved):
            raise UserError(f"--resume {resume_dir}: no config.yaml there; give a run folder written by "
                            "'genn-eventprop train'")
        cfg = load_config(saved, overrides)
        run_dir = resume_dir
    else:
        if not config:
            raise UserError("give a CONFIG file, or --resume RUN_DIR")
        cfg = load_config(config, overrides)
        run_dir = out_dir or os.path.join("runs", os.path.splitext(os.path.basename(config))[0])
        os.makedirs(run_dir, exist_ok=True)
        save_config(cfg, os.path.join(run_dir, "config.yaml"))
    click.echo(f"run folder: {run_dir}")
    trainer = Trainer(cfg, run_dir, log=click.echo)
    try:
        trainer.train(resume=bool(resume_dir))
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted; continue with: genn-eventprop train --resume {run_dir}", err=True)
        sys.exit(130)


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--data", "data_path", type=click.Path(), help="Evaluate on this data (same kind as the run's).")
@click.option("--checkpoint", type=click.Choice(["best", "last"]), default="best", show_default=True)
@set_option
@user_errors
def evaluate(run_dir, data_path, checkpoint, overrides):
    """Accuracy, per-class accuracy and confusion matrix of a trained run."""
    from genn_eventprop.config import load_config
    from genn_eventprop.pipeline import load_data
    from genn_eventprop.train import Trainer

    saved = os.path.join(run_dir, "config.yaml")
    if not os.path.exists(saved):
        raise UserError(f"{run_dir}: no config.yaml there; give a run folder written by 'genn-eventprop train'")
    overrides = list(overrides)
    if data_path:
        overrides += [f"data.path={data_path}", "data.test_path=null", "data.validation.by=none",
                      "data.test.speakers=[]"]
    cfg = load_config(saved, overrides)
    splits = load_data(cfg)
    trainer = Trainer(cfg, run_dir, splits=splits, log=click.echo)
    weights, _, meta = trainer.load_checkpoint(os.path.join(run_dir, "checkpoints", f"{checkpoint}.npz"))
    if data_path:
        dataset, what = splits.train, data_path
    elif splits.test is not None:
        dataset, what = splits.test, "the test set"
    else:
        dataset, what = splits.valid, "the validation set"
    ev = trainer.evaluate(dataset, weights)
    names = getattr(dataset, "class_names", None) or [str(c) for c in range(len(ev.per_class_accuracy))]
    click.echo(f"{checkpoint} checkpoint (epoch {meta['epoch'] + 1}) on {what}: {len(ev.predictions)} samples")
    click.echo(f"accuracy {100 * ev.accuracy:.2f}%  loss {ev.loss:.4f}")
    click.echo("per-class accuracy: " + ", ".join(f"{n} {100 * a:.1f}%" for n, a in zip(names, ev.per_class_accuracy)))
    click.echo("confusion matrix (rows: true class, columns: predicted):")
    for row in ev.confusion:
        click.echo(" ".join(f"{v:4d}" for v in row))


@main.command()
@click.argument("search_config", type=click.Path(dir_okay=False), required=False)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Search folder (default: searches/<name>).")
@click.option("--resume", "resume_dir", type=click.Path(file_okay=False), help="Continue the search in this folder.")
@user_errors
def search(search_config, out_dir, resume_dir):
    """Bayesian search over config keys (scikit-optimize); resumable, with parallel workers."""
    from genn_eventprop.search import run_search

    if resume_dir:
        saved = os.path.join(resume_dir, "search.yaml")
        if not os.path.exists(saved):
            raise UserError(f"--resume {resume_dir}: no search.yaml there; give a folder written by 'genn-eventprop search'")
        cfg_path, folder = saved, resume_dir
    else:
        if not search_config:
            raise UserError("give a SEARCH_CONFIG file, or --resume DIR")
        cfg_path = search_config
        folder = out_dir or os.path.join("searches", os.path.splitext(os.path.basename(search_config))[0])
    summary = run_search(cfg_path, folder, resume=bool(resume_dir), log=click.echo)
    click.echo(f"{summary['done']} trials done, {summary['failed']} failed, {summary['builds']} model builds, "
               f"{summary['wall_seconds']:.0f} s")
    if summary["best"]:
        click.echo(f"best: trial {summary['best']['trial']}, value {summary['best']['value']:.4g}, "
                   f"{summary['best']['params']}; config: {os.path.join(folder, 'best.yaml')}")


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--raster/--no-raster", default=True, show_default=True,
              help="Also redraw the hidden raster (runs the best checkpoint on the first evaluation sample).")
@user_errors
def plot(run_dir, raster):
    """Redraw the plots of a run folder in RUN_DIR/plots."""
    from genn_eventprop.config import load_config
    from genn_eventprop.plots import plot_run

    saved = os.path.join(run_dir, "config.yaml")
    if not os.path.exists(saved):
        raise UserError(f"{run_dir}: no config.yaml there; give a run folder written by 'genn-eventprop train'")
    if raster:
        from genn_eventprop.train import Trainer
        Trainer(load_config(saved), run_dir, log=click.echo).plot(raster=True)
    else:
        plot_run(run_dir)
    folder = os.path.join(run_dir, "plots")
    for name in sorted(os.listdir(folder)):
        click.echo(os.path.join(folder, name))


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("out_path", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["nir"]), default="nir", show_default=True,
              help="nir: the Neuromorphic Intermediate Representation (snnTorch, Norse, Sinabs, Lava, ...).")
@click.option("--checkpoint", type=click.Choice(["best", "last"]), default="best", show_default=True)
@click.option("--dt", type=float, default=None,
              help="ms: the time step the graph's w_in is written for (default: the run's dt); docs/nir.md.")
@user_errors
def export(run_dir, out_path, fmt, checkpoint, dt):
    """Write the trained network of RUN_DIR to OUT_PATH (a NIR graph); docs/nir.md gives the mapping."""
    from genn_eventprop.nir_io import export_run

    summary = export_run(run_dir, out_path, checkpoint=checkpoint, dt=dt)
    nodes = ", ".join(f"{k} ({v})" for k, v in summary["nodes"].items())
    click.echo(f"{summary['path']}: {checkpoint} checkpoint (epoch {summary['epoch']}), w_in for dt = "
               f"{summary['dt']:g} ms; nodes: {nodes}")


@main.command("import")
@click.argument("graph", type=click.Path(dir_okay=False))
@click.option("--config", "config", type=click.Path(dir_okay=False),
              help="Train this config with the graph's network and weights (model.from_nir=GRAPH).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Run folder (default: runs/<graph name>).")
@click.option("--nir-dt", type=float, default=None,
              help="ms: the time step the graph's w_in was written for, when its metadata has none (snnTorch: 0.1).")
@set_option
@user_errors
def import_(graph, config, out_dir, nir_dt, overrides):
    """Read a NIR graph: print the network it gives; with --config, train it here with EventProp."""
    overrides = list(overrides) + [f"model.from_nir={os.path.abspath(graph)}"]
    if nir_dt is not None:
        overrides.append(f"model.nir_dt={nir_dt}")
    from genn_eventprop.config import config_from_dict, load_config, save_config
    from genn_eventprop.nir_io import describe_import

    if not config:
        from genn_eventprop.config import apply_overrides
        cfg = config_from_dict(apply_overrides({}, overrides))
        for line in describe_import(cfg):
            click.echo(line)
        return
    from genn_eventprop.train import Trainer

    cfg = load_config(config, overrides)
    for line in describe_import(cfg):
        click.echo(line)
    run_dir = out_dir or os.path.join("runs", os.path.splitext(os.path.basename(graph))[0])
    os.makedirs(run_dir, exist_ok=True)
    save_config(cfg, os.path.join(run_dir, "config.yaml"))
    click.echo(f"run folder: {run_dir}")
    try:
        Trainer(cfg, run_dir, log=click.echo).train()
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted; continue with: genn-eventprop train --resume {run_dir}", err=True)
        sys.exit(130)


@main.command()
@user_errors
def info():
    """Which backends can run here: the C++ compiler, pygenn and CUDA."""
    from genn_eventprop.backends.available import backend_report

    report = backend_report()
    for key, value in report.items():
        click.echo(f"{key}: {value}")


if __name__ == "__main__":  # pragma: no cover
    main()
