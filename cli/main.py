"""The genn-eventprop command line. Thin: parse, call the library, print.

Every UserError (bad config, missing or corrupt data, too small a spike buffer) and every OSError (disk
full, read-only folder) is printed as one line on stderr naming the file or key and the fix, and the
command exits with code 2. Ctrl-C exits with code 130 and one line. Warnings are one line each on stderr.
"""
from __future__ import annotations

import functools
import os
import sys
import warnings

import click

from genn_eventprop.errors import UserError


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    text = " ".join(str(message).split())
    click.echo(text if text.startswith("warning:") else f"warning: {text}", err=True)


def user_errors(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        warnings.showwarning = _one_line_warning
        try:
            return fn(*args, **kwargs)
        except UserError as err:
            click.echo(f"error: {' '.join(str(err).split())}", err=True)
            sys.exit(2)
        except OSError as err:
            from genn_eventprop.files import describe_os_error
            click.echo(f"error: {describe_os_error(err)}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("\ninterrupted", err=True)
            sys.exit(130)
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
@click.option("--channels", type=int, default=None,
              help="The data's input channels (before delay lines), where the config's data does not fix them.")
@click.option("--classes", type=int, default=None, help="The number of classes, where the config's data does not fix it.")
@set_option
@user_errors
def codegen(config, out_dir, backend, channels, classes, overrides):
    """Write the generated code of CONFIG's network, exactly as it runs. No data is read: the network's sizes
    come from the config's data (yinyang, shd, ssc, tonic; audio: the channels) or from --channels/--classes."""
    from genn_eventprop.code_files import write_code
    from genn_eventprop.config import load_config

    cfg = load_config(config, overrides)
    for path in write_code(cfg, out_dir, backend, channels=channels, classes=classes):
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
    from genn_eventprop.gradcheck import run_gradcheck

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
@click.option("--overwrite", is_flag=True,
              help="Replace the run already in the run folder (its config, metrics, checkpoints and results).")
@set_option
@user_errors
def train(config, out_dir, resume_dir, overwrite, overrides):
    """Train the network CONFIG describes; everything lands in one run folder."""
    from genn_eventprop.config import load_config, save_config
    from genn_eventprop.files import RunLock, clear_run, run_files
    from genn_eventprop.train import Trainer

    if resume_dir:
        if config or out_dir or overwrite:
            extra = "CONFIG" if config else ("--out" if out_dir else "--overwrite")
            raise UserError(f"--resume {resume_dir} continues that run with its own config.yaml, so {extra} is not "
                            "used; drop it (change keys of the run with --set)")
        saved = os.path.join(resume_dir, "config.yaml")
        if not os.path.exists(saved):
            raise UserError(f"--resume {resume_dir}: no config.yaml there; give a run folder written by "
                            "'genn-eventprop train'")
        cfg = load_config(saved, overrides)
        run_dir = resume_dir
        last = os.path.join(run_dir, "checkpoints", "last.npz")
        if os.path.exists(last):   # a damaged checkpoint is found before the data loads and the model builds
            Trainer.load_checkpoint(last, fix=Trainer.resume_fix(run_dir))
    else:
        if not config:
            raise UserError("give a CONFIG file, or --resume RUN_DIR")
        cfg = load_config(config, overrides)
        run_dir = out_dir or os.path.join("runs", os.path.splitext(os.path.basename(config))[0])
    warn = functools.partial(click.echo, err=True)
    try:
        with RunLock(run_dir):
            if resume_dir:
                trainer = Trainer(cfg, run_dir, log=click.echo, warn=warn)
                # --set keys are written to config.yaml once the checkpoint is known to fit them
                on_start = (lambda: save_config(cfg, saved)) if overrides else None
            else:
                existing = run_files(run_dir)
                if existing and not overwrite:
                    raise UserError(f"{run_dir} already holds a run ({', '.join(existing)}); continue it with "
                                    f"'genn-eventprop train --resume {run_dir}', train into another folder with "
                                    "--out, or replace it with --overwrite")
                trainer = Trainer(cfg, run_dir, log=click.echo, warn=warn)   # data and build: before deleting

                def on_start():
                    if existing:
                        clear_run(run_dir)
                    save_config(cfg, os.path.join(run_dir, "config.yaml"))
            click.echo(f"run folder: {run_dir}")
            trainer.train(resume=bool(resume_dir), on_start=on_start)
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted; continue with: genn-eventprop train --resume {run_dir}", err=True)
        sys.exit(130)
    except OSError as err:
        from genn_eventprop.files import describe_os_error
        hint = (f"; then continue with: genn-eventprop train --resume {run_dir}"
                if os.path.exists(os.path.join(run_dir, "config.yaml")) else "")
        click.echo(f"error: {describe_os_error(err)}{hint}", err=True)
        sys.exit(2)


@main.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(file_okay=False), metavar="RUN_DIR...")
@click.option("--data", "data_path", type=click.Path(),
              help="Evaluate on this data instead: an SHD-layout HDF5 file (or, for audio runs, a folder of recordings).")
@click.option("--checkpoint", type=click.Choice(["best", "last"]), default="best", show_default=True)
@set_option
@user_errors
def evaluate(run_dirs, data_path, checkpoint, overrides):
    """Accuracy, per-class accuracy and confusion matrix of a trained run; of several runs, each one's accuracy
    and their ensemble's (the class with the highest mean softmax of the readout scores)."""
    from genn_eventprop.evaluate import evaluate_ensemble, evaluate_run

    if len(run_dirs) == 1:
        report = evaluate_run(run_dirs[0], data_path, checkpoint, overrides, log=click.echo)
        ev = report.evaluation
        click.echo(f"{checkpoint} checkpoint (epoch {report.epoch}) on {report.what}: {len(ev.predictions)} samples")
        click.echo(f"accuracy {100 * ev.accuracy:.2f}%  loss {ev.loss:.4f}")
        _print_classes(report.class_names, ev.per_class_accuracy, ev.confusion)
        return
    ensemble = evaluate_ensemble(run_dirs, data_path, checkpoint, overrides, log=click.echo)
    first = ensemble.members[0]
    click.echo(f"ensemble of {len(run_dirs)} runs, {checkpoint} checkpoints, on {first.what}: "
               f"{len(ensemble.predictions)} samples")
    for run_dir, m in zip(run_dirs, ensemble.members):
        click.echo(f"  {run_dir} (epoch {m.epoch}): accuracy {100 * m.evaluation.accuracy:.2f}%")
    single = [100 * m.evaluation.accuracy for m in ensemble.members]
    click.echo(f"members' mean accuracy {sum(single) / len(single):.2f}%")
    click.echo(f"ensemble accuracy {100 * ensemble.accuracy:.2f}%")
    _print_classes(first.class_names, ensemble.per_class_accuracy, ensemble.confusion)


def _print_classes(names, per_class, confusion):
    click.echo("per-class accuracy: " + ", ".join(
        f"{n} {'-' if a != a else f'{100 * a:.1f}%'}" for n, a in zip(names, per_class)))
    click.echo("confusion matrix (rows: true class, columns: predicted):")
    for row in confusion:
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
@click.argument("study_file", type=click.Path(dir_okay=False), required=False)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Study folder.")
@click.option("--resume", is_flag=True, help="Continue the study in --out (STUDY_FILE may then be left out).")
@user_errors
def study(study_file, out_dir, resume):
    """Variants x seeds x splits, each a trial as in search; a table, paired tests, a plot (docs/study.md)."""
    from genn_eventprop.study import run_study

    if not study_file and not resume:
        raise UserError("give a STUDY_FILE, or --resume with --out DIR")
    summary = run_study(study_file, out_dir, resume=resume, log=click.echo)
    click.echo(f"{summary['done']} of {summary['planned']} trials done, {summary['failed']} failed, "
               f"{summary['wall_seconds']:.0f} s")
    for row in summary["table"]:
        mean, std = row["test_mean"], row["test_std"]
        click.echo(f"{row['variant']}: test accuracy " + ("-" if mean is None else f"{100 * mean:.2f}%")
                   + ("" if std is None else f" +- {100 * std:.2f}") + f" over {row['runs']} run(s)")
    click.echo(f"table: {os.path.join(out_dir, 'summary.md')}")


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
@click.option("--overwrite", is_flag=True, help="Replace a run already in the run folder.")
@click.option("--nir-dt", type=float, default=None,
              help="ms: the time step the graph's w_in was written for, when its metadata has none (snnTorch: 0.1).")
@set_option
@click.pass_context
@user_errors
def import_(ctx, graph, config, out_dir, overwrite, nir_dt, overrides):
    """Read a NIR graph: print the network it gives; with --config, train it here with EventProp (as 'train
    CONFIG --set model.from_nir=GRAPH')."""
    from genn_eventprop.config import apply_overrides, config_from_dict, load_config
    from genn_eventprop.nir_io import describe_import

    overrides = list(overrides) + [f"model.from_nir={os.path.abspath(graph)}"]
    if nir_dt is not None:
        overrides.append(f"model.nir_dt={nir_dt}")
    cfg = load_config(config, overrides) if config else config_from_dict(apply_overrides({}, overrides))
    for line in describe_import(cfg):
        click.echo(line)
    if config:
        run_dir = out_dir or os.path.join("runs", os.path.splitext(os.path.basename(graph))[0])
        ctx.invoke(train, config=config, out_dir=run_dir, resume_dir=None, overwrite=overwrite,
                   overrides=tuple(overrides))


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
