"""A small Flask + SQLAlchemy (SQLite) shop, auto-instrumented by the OpenTelemetry
Python SDK, exporting OTLP/HTTP to the Tracery under test.

Usage: n_plus_one_app.py <otlp-http-traces-url>

It serves three endpoints on a port of its own, calls each once, flushes the
exporter and prints {"lazy": trace_id, "joined": trace_id, "fanout": trace_id}:
- /orders?load=lazy: 50 orders, then each order's customer lazily (1 + 50 queries);
- /orders?load=joined: the same data in one joined query;
- /dashboard: six HTTP calls to /widgets/<n> at once with asyncio.gather.
tests/it/sdk_languages.rs drives it; .ci/setup-sdks installs requirements-app.txt.
"""

import asyncio
import json
import os
import sys
import tempfile
import threading
import time
import urllib.request

import httpx
from flask import Flask, jsonify, request
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from sqlalchemy import ForeignKey, create_engine, select
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    joinedload,
    mapped_column,
    relationship,
)
from werkzeug.serving import make_server

NUM_ORDERS = 50
NUM_WIDGETS = 6


class Base(DeclarativeBase):
    pass


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    # The default lazy="select": touching order.customer runs one query per order.
    customer: Mapped[Customer] = relationship()


def main():
    endpoint = sys.argv[1]
    provider = TracerProvider(resource=Resource.create({"service.name": "shop-py"}))
    processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint))
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)

    data_dir = tempfile.mkdtemp()
    engine = create_engine(f"sqlite:///{os.path.join(data_dir, 'shop.db')}")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        for index in range(NUM_ORDERS):
            customer = Customer(name=f"customer {index}")
            session.add(Order(customer=customer))
        session.commit()
    # Instrumented after seeding, so the seed queries make no traces.
    SQLAlchemyInstrumentor().instrument(engine=engine, tracer_provider=provider)
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)

    app = Flask("shop")
    FlaskInstrumentor().instrument_app(app, tracer_provider=provider)

    @app.after_request
    def trace_id_header(response):
        context = trace.get_current_span().get_span_context()
        response.headers["X-Trace-Id"] = format(context.trace_id, "032x")
        return response

    @app.route("/orders")
    def orders():
        with Session(engine) as session:
            query = select(Order).order_by(Order.id)
            if request.args.get("load") == "joined":
                query = query.options(joinedload(Order.customer))
            rows = session.scalars(query).all()
            return jsonify([{"id": o.id, "customer": o.customer.name} for o in rows])

    @app.route("/widgets/<int:number>")
    def widget(number):
        time.sleep(0.02)  # a slow downstream service
        return jsonify({"widget": number})

    @app.route("/dashboard")
    def dashboard():
        base = request.host_url.rstrip("/")

        async def fetch_all():
            async with httpx.AsyncClient() as client:
                calls = [client.get(f"{base}/widgets/{n}") for n in range(NUM_WIDGETS)]
                return [response.json() for response in await asyncio.gather(*calls)]

        return jsonify(asyncio.run(fetch_all()))

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"

    def call(path):
        with urllib.request.urlopen(base + path, timeout=30) as response:
            assert response.status == 200, response.status
            return response.headers["X-Trace-Id"]

    trace_ids = {
        "lazy": call("/orders?load=lazy"),
        "joined": call("/orders?load=joined"),
        "fanout": call("/dashboard"),
    }
    server.shutdown()
    if not provider.force_flush(timeout_millis=30_000):
        sys.exit("the exporter did not flush")
    provider.shutdown()
    print(json.dumps(trace_ids))


if __name__ == "__main__":
    main()
