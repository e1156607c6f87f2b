"""``ml @name run:rest``: serve a trained instance's model over HTTP (waitress)."""
from vergeml.command import Command, ONE_INSTANCE
from vergeml.options import Option


class RestService(Command):
    """The ``run:rest`` service plugin."""

    name = "rest"
    description = "Serve a trained instance over HTTP: POST images to /predict, get labels as JSON."
    instance = ONE_INSTANCE
    options = (
        Option("host", default="127.0.0.1", metavar="HOST",
               help="Interface to listen on (0.0.0.0 exposes the service to the network)."),
        Option("port", default=2204, type="int", rule="0..65535", help="TCP port to listen on."),
        Option("no-browser", type="bool", flag=True, default=False, yaml=False,
               help="Do not open the explorer page in a web browser."),
        Option("max-body", default=20, type="float", rule=">0", metavar="MB",
               help="Largest accepted request body in MB (larger requests get 413)."),
        Option("threads", default=4, type="int", rule=">0", help="Worker threads of the server."),
    )
    examples = ("ml @nervous-tron run:rest",
                "ml @nervous-tron run:rest --port=8080 --no-browser",
                "curl -F files=@cat.jpg http://127.0.0.1:2204/predict")

    def run(self, args, env):
        """Load the model once, then serve until Ctrl-C."""
        from vergeml.services.rest import serve
        serve(env.instance(), host=args["host"], port=args["port"], threads=args["threads"],
              max_body_mb=args["max-body"], browser=not args["no-browser"], settings=env.settings)
        return 0
