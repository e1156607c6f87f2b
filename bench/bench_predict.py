"""``ml @x predict one.jpg``: through runtimes that do not import TensorFlow, against Keras.

One real run is trained first (MobileNet a0.25 at 224 with the shared ImageNet
weights, 2 classes of real photos from ``bench/photos.py``, 1 epoch; under
``bench/run.sh``, the last run of ``bench_retrain``'s project instead), then
each command predicting one ~420x350 JPEG is timed as the user runs it, a
whole process each time, best of ``--repeat``:

* ``ml @x predict photo.jpg`` (Keras on TensorFlow, the baseline);
* ``ml @x predict photo.jpg --runtime=openvino`` (the instance's OpenVINO export);
* ``ml @x predict photo.jpg --export=onnx`` (onnxruntime).

Both exports are made before timing by one ``ml @x export --format=onnx,openvino``
run in this process (the export ``--runtime=openvino`` uses; under
``bench/in_process.py`` TensorFlow is loaded already). The target is absolute: at most
2.5 s with a runtime that does not import TensorFlow.

Usage: python bench/bench_predict.py [--quick] [--repeat K]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import photos
import rows
from workspace import keras_home, trained_project

TARGET_SECONDS = 2.5


def ml(*args, cwd):
    """Run ``ml`` (the venv's, next to this interpreter); return seconds, fail loudly."""
    command = [os.path.join(os.path.dirname(sys.executable), "ml"), *args]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=900)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return seconds


def trained(root, count):
    """A project with a finished run; returns (project, instance name, one photo).

    The project ``bench_retrain`` left (see ``workspace.py``), else one trained here.
    """
    kept = trained_project()
    if kept is not None:
        folder, run = kept
        photo = sorted((folder / "samples").glob("*/*.jpg"))[0]
        return str(folder), run, str(photo.relative_to(folder))
    project = os.path.join(root, "proj")
    paths = photos.make_photos(os.path.join(project, "samples"), count, classes=("a", "b"))
    with open(os.path.join(project, "vergeml.yaml"), "w") as handle:
        handle.write("model: imagenet\n")
    ml("train", "--architecture=mobilenet", "--alpha=0.25", "--size=224", "--epochs=1",
       "--name=bench", cwd=project)
    return project, "bench", os.path.relpath(paths[0], project)


def export(project, name):
    """``ml @name export --format=onnx,openvino`` through ``vergeml.cli.main.main``, in this process."""
    from vergeml.cli import main as cli
    status = cli.main(["--project-dir", project, f"@{name}", "export", "--format=onnx,openvino"])
    if status:
        raise SystemExit(f"ml @{name} export failed ({status})")


def best(args, project, repeat):
    """The fastest of ``repeat`` whole-process runs of ``ml args``."""
    return min(ml(*args, cwd=project) for _ in range(repeat))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (bench-quick)")
    parser.add_argument("--repeat", type=int, help="runs per command (default 5, quick 1)")
    opts = parser.parse_args()
    repeat = opts.repeat or (1 if opts.quick else 5)
    os.environ.update({"TF_CPP_MIN_LOG_LEVEL": "2", "VERGEML_OFFLINE": "1"})
    root = tempfile.mkdtemp(prefix="bench-predict-")
    try:
        keras_home(root)
        project, name, photo = trained(root, 40)
        export(project, name)
        keras = best([f"@{name}", "predict", photo], project, repeat)
        for label, extra in (("openvino", ["--runtime=openvino"]), ("onnx", ["--export=onnx"])):
            seconds = best([f"@{name}", "predict", photo, *extra], project, repeat)
            verdict = "met" if seconds <= TARGET_SECONDS else "NOT met"
            rows.emit(f"ml @x predict one.jpg, {label}: {seconds:.2f} s "
                      f"(target <= {TARGET_SECONDS} s: {verdict})", seconds, keras, "s",
                      target=None, higher_is_better=False, note="Keras on TensorFlow")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
