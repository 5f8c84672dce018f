// Counts api_calls per tenant with the official OpenTelemetry SDK and
// exports cumulative sums (the SDK's default) over OTLP/HTTP to
// OTLP_METRICS_URL, one collection per round. Prints what it counted, as
// JSON, for the test to compare with what was billed.
'use strict';

const { MeterProvider, PeriodicExportingMetricReader } = require('@opentelemetry/sdk-metrics');
const { OTLPMetricExporter } = require('@opentelemetry/exporter-metrics-otlp-http');
const { resourceFromAttributes } = require('@opentelemetry/resources');

async function main() {
  const exporter = new OTLPMetricExporter({ url: process.env.OTLP_METRICS_URL });
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3600000 });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': 'node-shop', 'service.instance.id': 'node-shop-1' }),
    readers: [reader],
  });
  const counter = provider.getMeter('node-shop').createCounter('api_calls');
  const counted = {};
  for (let round = 0; round < 5; round++) {
    for (const tenant of ['n1', 'n2']) {
      const n = round * 3 + tenant.length;
      counter.add(n, { 'tenant.id': tenant, 'device.id': 'node-device' });
      counted[tenant] = (counted[tenant] || 0) + n;
    }
    await provider.forceFlush();
  }
  await provider.shutdown();
  process.stdout.write(JSON.stringify(counted) + '\n');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
