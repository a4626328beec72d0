//! The demo shop's traffic, generated from a seed: pure, no I/O or clocks (the
//! caller passes each request's start time).
//!
//! ```text
//! frontend ─▶ api-gateway ─┬▶ auth
//!                          ├▶ cart ─▶ redis
//!                          └▶ orders ─┬▶ postgres            (GET /api/orders: an N+1 loop)
//!                                     ├▶ payment ─▶ payments.example.net   (slow; slower for platinum)
//!                                     └▶ kafka order-events ─▶ notifications (own trace, linked)
//! ```

use opentelemetry_proto::tonic::trace::v1::span::SpanKind as OtlpSpanKind;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans as OtlpResourceSpans;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::services::Service;
use super::trace::{kv, SpanRef, TraceBuilder};

const MS: u64 = 1_000_000;
const NUM_USERS: usize = 40;
const PAYMENT_PROVIDER: &str = "api.payments.example.net";
const MAIL_PROVIDER: &str = "api.mail.example.net";

/// What one call to `Shop::next` produced.
#[derive(Debug)]
pub struct Generated {
    pub resource_spans: Vec<OtlpResourceSpans>,
    pub num_traces: usize,
    pub num_spans: usize,
}

/// Deterministic traffic: the same seed and start times give the same spans.
#[derive(Debug)]
pub struct Shop {
    rng: StdRng,
    users: Vec<User>,
}

#[derive(Debug, Clone)]
struct User {
    id: String,
    tier: &'static str,
}

/// One inbound HTTP request being handled: the server span and who it is for.
#[derive(Debug, Clone, Copy)]
struct Handling<'a> {
    span: SpanRef,
    user: &'a User,
}

/// How a handler finished: when, and with which HTTP status.
#[derive(Debug, Clone, Copy)]
struct Reply {
    end: u64,
    status: u16,
}

impl Shop {
    pub fn new(seed: u64) -> Shop {
        let mut rng = StdRng::seed_from_u64(seed);
        let users = (0..NUM_USERS)
            .map(|index| User {
                id: format!("user-{:04}", 1000 + index * 37 % 1000),
                tier: match rng.random_range(0..10) {
                    0..=5 => "standard",
                    6..=8 => "gold",
                    _ => "platinum",
                },
            })
            .collect();
        Shop { rng, users }
    }

    /// One user request starting at `start_nanos` (and, for a checkout, the
    /// notification trace its queued event causes).
    pub fn next(&mut self, start_nanos: u64) -> Generated {
        let user = self.users[self.rng.random_range(0..self.users.len())].clone();
        let mut trace = TraceBuilder::new(self.trace_id());
        let mut follow_up = None;
        let roll = self.rng.random_range(0..100);
        let (method, page, route) = match roll {
            0..=34 => ("GET", "/cart", "/api/cart"),
            35..=59 => ("POST", "/cart", "/api/cart/items"),
            60..=84 => ("POST", "/checkout", "/api/checkout"),
            _ => ("GET", "/account/orders", "/api/orders"),
        };
        let root = trace.span(
            None,
            self.span_id(),
            Service::Frontend,
            &format!("{method} {page}"),
            OtlpSpanKind::Server,
            start_nanos,
            start_nanos,
        );
        self.server_attributes(&mut trace, root, method, page, page, &user);
        let handling = Handling {
            span: root,
            user: &user,
        };
        let render_start = start_nanos + self.millis(1, 4);
        let reply = self.http_call(
            &mut trace,
            handling,
            Service::ApiGateway,
            method,
            route,
            route,
            render_start,
            |shop, trace, gateway, start| {
                shop.gateway(trace, gateway, route, start, &mut follow_up)
            },
        );
        let end = reply.end + self.millis(1, 6);
        trace.set_end(root, end);
        trace.attr(root, "http.response.status_code", i64::from(reply.status));
        if reply.status >= 500 {
            trace.set_error(root, &format!("upstream answered {}", reply.status));
        }
        let mut resource_spans = trace.into_resource_spans();
        let mut num_traces = 1;
        if let Some(producer) = follow_up {
            resource_spans.extend(self.notification(producer));
            num_traces += 1;
        }
        let num_spans = resource_spans
            .iter()
            .flat_map(|resource| &resource.scope_spans)
            .map(|scope| scope.spans.len())
            .sum();
        Generated {
            resource_spans,
            num_traces,
            num_spans,
        }
    }

    /// api-gateway: authenticate, then route to the owning service.
    fn gateway(
        &mut self,
        trace: &mut TraceBuilder,
        gateway: Handling<'_>,
        route: &str,
        start: u64,
        follow_up: &mut Option<(SpanRef, u64)>,
    ) -> Reply {
        let auth_start = start + self.micros(100, 400);
        let auth = self.http_call(
            trace,
            gateway,
            Service::Auth,
            "POST",
            "/auth/validate",
            "/auth/validate",
            auth_start,
            |shop, trace, auth, start| {
                let end = start + shop.millis(1, 4);
                if shop.chance(2) {
                    trace.event(
                        auth.span,
                        "token rejected",
                        end,
                        vec![kv("auth.reason", "expired")],
                    );
                    return Reply { end, status: 401 };
                }
                Reply { end, status: 200 }
            },
        );
        if auth.status != 200 {
            return Reply {
                end: auth.end + self.micros(100, 300),
                status: auth.status,
            };
        }
        let start = auth.end + self.micros(50, 200);
        let reply = match route {
            "/api/cart" => self.http_call(
                trace,
                gateway,
                Service::Cart,
                "GET",
                "/carts/{user_id}",
                &format!("/carts/{}", gateway.user.id),
                start,
                |shop, trace, cart, start| shop.read_cart(trace, cart, start),
            ),
            "/api/cart/items" => self.http_call(
                trace,
                gateway,
                Service::Cart,
                "POST",
                "/carts/{user_id}/items",
                &format!("/carts/{}/items", gateway.user.id),
                start,
                |shop, trace, cart, start| {
                    let end = shop.redis(trace, cart, "HSET", "HSET cart:? ? ?", start);
                    let end = shop.redis(trace, cart, "EXPIRE", "EXPIRE cart:? ?", end);
                    Reply {
                        end: end + shop.micros(100, 500),
                        status: 201,
                    }
                },
            ),
            "/api/checkout" => self.http_call(
                trace,
                gateway,
                Service::Orders,
                "POST",
                "/orders",
                "/orders",
                start,
                |shop, trace, orders, start| shop.checkout(trace, orders, start, follow_up),
            ),
            _ => self.http_call(
                trace,
                gateway,
                Service::Orders,
                "GET",
                "/orders",
                &format!("/orders?user_id={}", gateway.user.id),
                start,
                |shop, trace, orders, start| shop.order_history(trace, orders, start),
            ),
        };
        Reply {
            end: reply.end + self.micros(100, 400),
            // The gateway passes client errors through and turns server errors into 502.
            status: if reply.status >= 500 {
                502
            } else {
                reply.status
            },
        }
    }

    /// cart: the cart from redis; rarely a timeout and a retry.
    fn read_cart(&mut self, trace: &mut TraceBuilder, cart: Handling<'_>, start: u64) -> Reply {
        let timed_out = self.chance(2);
        let mut end = self.redis(trace, cart, "HGETALL", "HGETALL cart:?", start);
        if timed_out {
            // The first attempt is the span just added: make it a timeout, then retry.
            let attempt = trace.last();
            let retry_start = end + self.millis(50, 60);
            trace.set_end(attempt, retry_start - self.millis(1, 2));
            trace.fail(
                attempt,
                "redis.exceptions.TimeoutError",
                "Timeout reading from redis:6379",
                "Traceback (most recent call last):\n  File \"cart/store.py\", line 42, in get_cart\n    return self.redis.hgetall(key)\nredis.exceptions.TimeoutError: Timeout reading from redis:6379",
            );
            trace.event(
                cart.span,
                "retrying redis command",
                retry_start,
                vec![kv("retry.attempt", 1i64)],
            );
            end = self.redis(trace, cart, "HGETALL", "HGETALL cart:?", retry_start);
        }
        if self.chance(15) {
            trace.event(cart.span, "cart empty", end, vec![]);
        }
        Reply {
            end: end + self.micros(200, 900),
            status: 200,
        }
    }

    /// orders: write the order, charge it, publish an event for notifications.
    fn checkout(
        &mut self,
        trace: &mut TraceBuilder,
        orders: Handling<'_>,
        start: u64,
        follow_up: &mut Option<(SpanRef, u64)>,
    ) -> Reply {
        let end = self.postgres(
            trace,
            orders,
            "INSERT orders",
            "INSERT INTO orders (user_id, total_cents, status) VALUES ($1, $2, 'pending') RETURNING id",
            start,
        );
        let num_items = self.rng.random_range(1..6);
        let end = self.postgres(
            trace,
            orders,
            "INSERT order_items",
            "INSERT INTO order_items (order_id, product_id, quantity, price_cents) SELECT * FROM unnest($1, $2, $3, $4)",
            end,
        );
        trace.attr(orders.span, "order.items", i64::from(num_items));
        let payment_start = end + self.micros(100, 300);
        let payment = self.http_call(
            trace,
            orders,
            Service::Payment,
            "POST",
            "/charges",
            "/charges",
            payment_start,
            |shop, trace, payment, start| shop.charge(trace, payment, start),
        );
        let status_query = "UPDATE orders SET status = $2, updated_at = now() WHERE id = $1";
        let end = self.postgres(trace, orders, "UPDATE orders", status_query, payment.end);
        if payment.status != 200 {
            if payment.status == 402 {
                trace.event(
                    orders.span,
                    "order declined",
                    end,
                    vec![kv("order.status", "payment_declined")],
                );
            }
            return Reply {
                end: end + self.micros(200, 600),
                status: if payment.status >= 500 {
                    502
                } else {
                    payment.status
                },
            };
        }
        let publish_start = end + self.micros(100, 300);
        let producer = trace.span(
            Some(orders.span),
            self.span_id(),
            Service::Orders,
            "publish order-events",
            OtlpSpanKind::Producer,
            publish_start,
            publish_start + self.millis(1, 4),
        );
        for (key, value) in [
            ("messaging.system", "kafka"),
            ("messaging.destination.name", "order-events"),
            ("messaging.operation.type", "send"),
            ("server.address", "kafka"),
        ] {
            trace.attr(producer, key, value);
        }
        let producer_end = trace.end(producer);
        *follow_up = Some((producer, producer_end));
        Reply {
            end: producer_end + self.micros(200, 800),
            status: 201,
        }
    }

    /// payment: the external payment provider, the slow dependency. It is slower
    /// for platinum customers (extra fraud screening), declines some cards, and now
    /// and then is unavailable.
    fn charge(&mut self, trace: &mut TraceBuilder, payment: Handling<'_>, start: u64) -> Reply {
        let mut latency = self.millis(60, 220);
        if payment.user.tier == "platinum" {
            latency = latency * 3 + self.millis(200, 600);
        }
        let outcome = self.rng.random_range(0..100);
        let provider_status: u16 = match outcome {
            0..=3 => 402,
            4 => 503,
            _ => 200,
        };
        let call_start = start + self.micros(300, 900);
        let call = trace.span(
            Some(payment.span),
            self.span_id(),
            Service::Payment,
            "POST",
            OtlpSpanKind::Client,
            call_start,
            call_start + latency,
        );
        trace.attr(call, "http.request.method", "POST");
        trace.attr(call, "server.address", PAYMENT_PROVIDER);
        trace.attr(call, "server.port", 443i64);
        trace.attr(
            call,
            "url.full",
            format!("https://{PAYMENT_PROVIDER}/v1/charges"),
        );
        trace.attr(
            call,
            "http.response.status_code",
            i64::from(provider_status),
        );
        let end = trace.end(call) + self.micros(300, 900);
        match provider_status {
            402 => {
                trace.set_error(call, "402");
                trace.fail(
                    payment.span,
                    "PaymentDeclinedError",
                    "card declined: insufficient_funds",
                    "PaymentDeclinedError: card declined: insufficient_funds\n    at Charges.create (/app/src/provider.js:88:13)\n    at async chargeHandler (/app/src/routes/charges.js:31:20)",
                );
                Reply { end, status: 402 }
            }
            503 => {
                trace.set_error(call, "503");
                trace.fail(
                    payment.span,
                    "ProviderUnavailableError",
                    "payment provider unavailable (503)",
                    "ProviderUnavailableError: payment provider unavailable (503)\n    at Charges.create (/app/src/provider.js:95:11)",
                );
                Reply { end, status: 502 }
            }
            _ => {
                trace.event(
                    payment.span,
                    "payment authorized",
                    end,
                    vec![kv("payment.method", "card")],
                );
                Reply { end, status: 200 }
            }
        }
    }

    /// orders: the order history page, with an N+1 query loop: one query for the
    /// orders, then one per order for its items.
    fn order_history(
        &mut self,
        trace: &mut TraceBuilder,
        orders: Handling<'_>,
        start: u64,
    ) -> Reply {
        let mut end = self.postgres(
            trace,
            orders,
            "SELECT orders",
            "SELECT id, status, total_cents, created_at FROM orders WHERE user_id = $1 ORDER BY created_at DESC LIMIT 50",
            start,
        );
        let num_orders = self.rng.random_range(6..30);
        for _ in 0..num_orders {
            let query_start = end + self.micros(30, 120);
            end = self.postgres(
                trace,
                orders,
                "SELECT order_items",
                "SELECT product_id, quantity, price_cents FROM order_items WHERE order_id = $1",
                query_start,
            );
        }
        trace.attr(orders.span, "orders.count", i64::from(num_orders));
        Reply {
            end: end + self.micros(300, 1200),
            status: 200,
        }
    }

    /// notifications (its own trace): consumes the order event, linked to the
    /// producer span, and sends a confirmation mail.
    fn notification(&mut self, (producer, produced_at): (SpanRef, u64)) -> Vec<OtlpResourceSpans> {
        let mut trace = TraceBuilder::new(self.trace_id());
        let start = produced_at + self.millis(5, 80);
        let consumer = trace.span(
            None,
            self.span_id(),
            Service::Notifications,
            "process order-events",
            OtlpSpanKind::Consumer,
            start,
            start,
        );
        for (key, value) in [
            ("messaging.system", "kafka"),
            ("messaging.destination.name", "order-events"),
            ("messaging.operation.type", "process"),
            ("messaging.consumer.group.name", "notifications"),
        ] {
            trace.attr(consumer, key, value);
        }
        trace.link(
            consumer,
            producer,
            vec![kv("messaging.operation.type", "send")],
        );
        let send_start = start + self.millis(1, 3);
        let mail = trace.span(
            Some(consumer),
            self.span_id(),
            Service::Notifications,
            "POST",
            OtlpSpanKind::Client,
            send_start,
            send_start + self.millis(30, 90),
        );
        trace.attr(mail, "http.request.method", "POST");
        trace.attr(mail, "server.address", MAIL_PROVIDER);
        trace.attr(
            mail,
            "url.full",
            format!("https://{MAIL_PROVIDER}/v3/mail/send"),
        );
        trace.attr(mail, "http.response.status_code", 202i64);
        let end = trace.end(mail) + self.millis(1, 2);
        trace.set_end(consumer, end);
        trace.into_resource_spans()
    }

    /// A CLIENT span in `from.span`'s service and the SERVER span of `to`, whose
    /// work `handle` adds; returns when the client got its answer.
    #[allow(clippy::too_many_arguments)]
    fn http_call<F>(
        &mut self,
        trace: &mut TraceBuilder,
        from: Handling<'_>,
        to: Service,
        method: &str,
        route: &str,
        path: &str,
        start: u64,
        handle: F,
    ) -> Reply
    where
        F: FnOnce(&mut Shop, &mut TraceBuilder, Handling<'_>, u64) -> Reply,
    {
        let from_service = trace.service(from.span);
        let client = trace.span(
            Some(from.span),
            self.span_id(),
            from_service,
            method,
            OtlpSpanKind::Client,
            start,
            start,
        );
        let server_start = start + self.micros(200, 1200);
        let server = trace.span(
            Some(client),
            self.span_id(),
            to,
            &format!("{method} {route}"),
            OtlpSpanKind::Server,
            server_start,
            server_start,
        );
        self.server_attributes(trace, server, method, route, path, from.user);
        let handler_start = server_start + self.micros(100, 500);
        let reply = handle(
            self,
            trace,
            Handling {
                span: server,
                user: from.user,
            },
            handler_start,
        );
        trace.set_end(server, reply.end);
        trace.attr(server, "http.response.status_code", i64::from(reply.status));
        if reply.status >= 500 {
            trace.set_error(server, "");
        }
        let client_end = reply.end + self.micros(200, 1200);
        trace.set_end(client, client_end);
        trace.attr(client, "http.request.method", method);
        trace.attr(client, "server.address", to.name());
        trace.attr(client, "server.port", 8080i64);
        trace.attr(
            client,
            "url.full",
            format!("http://{}:8080{path}", to.name()),
        );
        trace.attr(client, "http.response.status_code", i64::from(reply.status));
        if reply.status >= 400 {
            trace.set_error(client, &reply.status.to_string());
        }
        Reply {
            end: client_end,
            status: reply.status,
        }
    }

    fn server_attributes(
        &mut self,
        trace: &mut TraceBuilder,
        span: SpanRef,
        method: &str,
        route: &str,
        path: &str,
        user: &User,
    ) {
        trace.attr(span, "http.request.method", method);
        trace.attr(span, "http.route", route);
        trace.attr(span, "url.path", path.split('?').next().unwrap_or(path));
        trace.attr(span, "url.scheme", "http");
        trace.attr(span, "user.id", user.id.as_str());
        trace.attr(span, "customer.tier", user.tier);
    }

    fn redis(
        &mut self,
        trace: &mut TraceBuilder,
        caller: Handling<'_>,
        command: &str,
        statement: &str,
        start: u64,
    ) -> u64 {
        let span = trace.span(
            Some(caller.span),
            self.span_id(),
            Service::Cart,
            command,
            OtlpSpanKind::Client,
            start,
            start + self.micros(200, 1500),
        );
        trace.attr(span, "db.system", "redis");
        trace.attr(span, "db.query.text", statement);
        trace.attr(span, "db.operation.name", command);
        trace.attr(span, "server.address", "redis");
        trace.attr(span, "server.port", 6379i64);
        trace.end(span)
    }

    fn postgres(
        &mut self,
        trace: &mut TraceBuilder,
        caller: Handling<'_>,
        name: &str,
        statement: &str,
        start: u64,
    ) -> u64 {
        let span = trace.span(
            Some(caller.span),
            self.span_id(),
            Service::Orders,
            name,
            OtlpSpanKind::Client,
            start,
            start + self.micros(400, 3000),
        );
        trace.attr(span, "db.system", "postgresql");
        trace.attr(span, "db.namespace", "shop");
        trace.attr(span, "db.query.text", statement);
        trace.attr(
            span,
            "db.operation.name",
            name.split(' ').next().unwrap_or(name),
        );
        trace.attr(span, "server.address", "postgres");
        trace.attr(span, "server.port", 5432i64);
        trace.end(span)
    }

    fn trace_id(&mut self) -> [u8; 16] {
        let mut id = [0u8; 16];
        self.rng.fill(&mut id);
        id[0] |= 1; // never all zero
        id
    }

    fn span_id(&mut self) -> [u8; 8] {
        let mut id = [0u8; 8];
        self.rng.fill(&mut id);
        id[0] |= 1;
        id
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.rng.random_range(0..100) < percent
    }

    fn millis(&mut self, low: u64, high: u64) -> u64 {
        self.rng.random_range(low * MS..high * MS)
    }

    fn micros(&mut self, low: u64, high: u64) -> u64 {
        self.rng.random_range(low * 1000..high * 1000)
    }
}
