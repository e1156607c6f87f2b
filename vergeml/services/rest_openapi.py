"""The OpenAPI 3 description of the REST service (``GET /openapi.json``): every path,
status and content type it answers, and the predictor's own option fields."""
from vergeml import __version__
from vergeml.models.model_base import LABELS_OPTION

MB = 1024 * 1024


def megabytes(size):
    """A byte count as MB text: ``20``, ``0.5``."""
    return f"{size / MB:g}"


def openapi_spec(predictor, max_body):
    """An OpenAPI 3 description of the service (every status and content type it answers)."""
    # A client preferring text/html (a browser) gets HTML pages instead of JSON.
    error = {"description": "Error", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}, "text/html": {}}}
    # Far over the limit, waitress refuses the body itself, before the app sees it.
    too_large = {"description": f"Body over {megabytes(max_body)} MB",
                 "content": {**error["content"], "text/plain": {}}}
    html_page = {"200": {"description": "HTML page", "content": {"text/html": {}}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": f"VergeML @{predictor.name}", "version": __version__,
                 "description": f"Image classifier with {len(predictor.labels)} labels: "
                                + ", ".join(predictor.labels[:20])
                                + (" ..." if len(predictor.labels) > 20 else "")},
        "paths": {
            "/": {"get": {"summary": "Explorer page", "responses": html_page}},
            "/health": {"get": {"summary": "Liveness check", "responses": {"200": {
                "description": "Service is up", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"status": {"type": "string"},
                                                     "instance": {"type": "string"}}}}}}}}},
            "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {
                "description": "OpenAPI 3 document", "content": {"application/json": {}}}}}},
            "/explain": {"post": {
                "summary": "Heatmap of what the prediction of an image looked at (Grad-CAM)",
                "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object", "required": ["files"], "properties": {
                        "files": {"type": "string", "format": "binary",
                                  "description": "an image (the first one is explained)"},
                        "label": {"type": "string", "description": "the class to explain "
                                  "(default: the predicted one)"},
                        **_option_schemas(predictor)}}}}},
                "responses": {"200": {"description": "The image with the heatmap; X-Label: "
                                                     "the class explained",
                                      "content": {"image/png": {}}},
                              "400": error, "413": too_large, "415": error, "500": error,
                              "501": error}}},
            "/predict": {
                "get": {"summary": "Upload form", "responses": html_page},
                "post": {
                    "summary": "Classify images",
                    "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                        "type": "object", "required": ["files"], "properties": {
                            "files": {"type": "array", "items": {"type": "string", "format": "binary"},
                                      "description": "one or more images"},
                            "labels": {"type": "integer", "minimum": 1, "default": LABELS_OPTION.default,
                                       "description": "how many labels per image"},
                            **_option_schemas(predictor)}}}}},
                    "responses": {
                        "200": {"description": "One entry per file, in upload order",
                                "content": {"application/json": {"schema": {
                                    "type": "array", "items": {"$ref": "#/components/schemas/Result"}}},
                                    "text/html": {}}},
                        "400": error, "413": too_large, "415": error, "500": error}}},
        },
        "components": {"schemas": {
            "Error": {"type": "object", "properties": {"error": {"type": "string"},
                                                       "file": {"type": "string"}}},
            "Result": {"type": "object", "properties": {
                "filename": {"type": "string"},
                "prediction": {"type": "array", "items": {"type": "object", "properties": {
                    "probability": {"type": "number"}, "label": {"type": "string"}}}},
                "unknown": {"type": "boolean", "description": "the image is unlike every class "
                            "(present when rejection is on)"},
                "ood_score": {"type": "number", "description": "the unknown score"},
                "threshold": {"type": "number", "description": "over it, unknown"}}},
        }},
    }


def _option_schemas(predictor):
    """OpenAPI properties of the predictor's options: boolean, a choice, or a number or word."""
    return {o.name: {**_option_type(o), "description": o.help,
                     "default": predictor.defaults.get(o.name, o.default)}
            for o in predictor.options}


def _option_type(option):
    if option.type == "bool":
        return {"type": "boolean"}
    if option.choices:
        return {"type": "string", "enum": list(option.choices)}
    return {"oneOf": [{"type": "number"}, {"type": "string", "enum": list(option.also)}]}
