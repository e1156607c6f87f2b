"""``ml [@name] run:<service>``: start a long-running service (rest, tensorboard).

The services themselves live in :mod:`vergeml.services`; these are the thin
command adapters registered under the ``vergeml.run`` entry points.
"""
from vergeml.plugins import registry as plugins
from vergeml.commands.command_base import ANY_INSTANCES, ONE_INSTANCE, Command
from vergeml.settings.option import Option


class RunCommand(Command):
    """Dispatch ``ml [@name] run:<service>`` to the service plugin (Command.run does it)."""

    name = "run"
    description = "Run a service: a REST server for a trained instance, TensorBoard, or the ui page."
    subcommands = plugins.SERVICES
    examples = ("ml @nervous-tron run:rest",
                "ml @nervous-tron run:rest --port=8080 --no-browser",
                "ml run:tensorboard")


def _no_browser(what):
    return Option("no-browser", type="bool", flag=True, default=False,
                  help=f"Do not open {what} in a web browser.")


class RestService(Command):
    """The ``run:rest`` service plugin."""

    name = "rest"
    description = "Serve a trained instance over HTTP: POST images to /predict, get labels as JSON."
    instance = ONE_INSTANCE
    options = (
        Option("host", default="127.0.0.1", metavar="HOST",
               help="Interface to listen on (0.0.0.0 exposes the service to the network)."),
        Option("port", default=2204, type="int", rule="0..65535", help="TCP port to listen on."),
        _no_browser("the explorer page"),
        Option("max-body", default=20, type="float", rule=">0", metavar="MB",
               help="Largest accepted request body in MB (larger requests get 413)."),
        Option("threads", default=4, type="int", rule=">0", help="Worker threads of the server."),
        Option("export", metavar="FORMAT",
               help="Serve an export instead of the model: a format or folder as written by "
                    "'ml @name export' (onnx, tflite and openvino need no TensorFlow)."),
    )
    examples = ("ml @nervous-tron run:rest",
                "ml @nervous-tron run:rest --port=8080 --no-browser",
                "ml @nervous-tron run:rest --export=openvino",
                "curl -F files=@cat.jpg http://127.0.0.1:2204/predict")

    def run(self, args, env):
        """Load the model once, then serve until Ctrl-C."""
        from vergeml.services.rest import serve
        instance = env.instance()
        extra = {"export": args["export"]} if args.get("export") else {}
        serve(instance.name, lambda: env.model().predictor(instance, env.settings, **extra),
              host=args["host"], port=args["port"], threads=args["threads"],
              max_body_mb=args["max-body"], browser=not args["no-browser"])
        return 0


class TensorboardService(Command):
    """The ``run:tensorboard`` service plugin."""

    name = "tensorboard"
    description = "Run TensorBoard on the training logs of @name (or of every instance)."
    instance = ANY_INSTANCES
    options = (
        Option("host", default="127.0.0.1", metavar="HOST", help="Interface TensorBoard listens on."),
        Option("port", default=6006, type="int", rule="1..65535", help="TCP port of TensorBoard."),
        _no_browser("TensorBoard"),
    )
    examples = ("ml run:tensorboard", "ml @nervous-tron @optimum-neuron run:tensorboard --port=6007")

    def run(self, args, env):
        """Start TensorBoard and wait until it exits or the user presses Ctrl-C."""
        from vergeml.services import tensorboard
        tensorboard.serve(tensorboard.log_dirs(env), args["host"], args["port"],
                          browser=not args["no-browser"])
        return 0
