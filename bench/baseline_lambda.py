"""The bare FastAPI app behind Mangum: the yardstick for cold starts under the Lambda runtime."""

from mangum import Mangum

from bench.baseline_app import app

handler = Mangum(app, lifespan="off")
