// The scale-out manifests in deploy/, parsed: they must agree with the image (port, user, health path) and
// with what the server really exports on /metrics, or a deployment fails at run time, not at review.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { Lifecycle } from '../../lib/server/lifecycle.js';
import { ServerMetrics } from '../../lib/server/server-metrics.js';
import { DEFAULT_PORT } from '../../lib/cli/serve.js';

const root = resolve(import.meta.dirname, '..', '..');
const k8sDir = join(root, 'deploy', 'k8s');
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const pkg = JSON.parse(read('package.json')) as { version: string };
const port = DEFAULT_PORT;

/** The metric names GET /metrics exports, from the server's own renderer. */
const exportedMetrics = new Set(
  [...new ServerMetrics().render([], new Lifecycle()).matchAll(/^# TYPE (\S+) /gm)].map((match) => match[1] as string),
);

// Loose shapes: the tests check fields one by one and fail with their path.
type Doc = Record<string, any>;

const manifests: Doc[] = readdirSync(k8sDir)
  .filter((name) => name.endsWith('.yaml') && name !== 'prometheus-adapter-values.yaml')
  .flatMap((name) =>
    parseAllDocuments(readFileSync(join(k8sDir, name), 'utf8')).map((doc) => {
      expect(doc.errors, name).toEqual([]);
      return { ...(doc.toJS() as Doc), file: name };
    }),
  );
const byKind = (kind: string): Doc => {
  const found = manifests.filter((m) => m.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0] as Doc;
};
const deployment = byKind('Deployment');
const podSpec = deployment.spec.template.spec;
const container = podSpec.containers[0];
/** A probe's or Service's port (a number or a container port name) as a number. */
const portNumber = (value: number | string) =>
  typeof value === 'number' ? value : container.ports.find((p: Doc) => p.name === value)?.containerPort;

// The image's user and port: the Dockerfile's last USER and its EXPOSE.
const dockerfile = read('Dockerfile');
const imageUser = [...dockerfile.matchAll(/^USER\s+(\S+)\s*$/gm)].at(-1)?.[1];

describe('deploy › the image', () => {
  it('exposes the port serve listens on by default, and runs as a numeric non-root user', () => {
    expect([...dockerfile.matchAll(/^EXPOSE\s+(.+?)\s*$/gm)].map((m) => m[1])).toEqual([String(port)]);
    expect(imageUser).toMatch(/^[1-9]\d*:[1-9]\d*$/);
  });
});

describe('deploy › Kubernetes', () => {
  it('the Deployment runs the image version of package.json, serve on every interface, one per GPU', () => {
    expect(podSpec.containers).toHaveLength(1);
    expect(container.image).toMatch(new RegExp(`/torch-gen:${pkg.version.replace(/\./g, '\\.')}$`));
    expect(container.args.slice(0, 1)).toEqual(['serve']);
    expect(container.args[container.args.indexOf('--host') + 1]).toBe('0.0.0.0');
    expect(container.args[container.args.indexOf('--port') + 1]).toBe(String(port));
    expect(container.ports).toEqual([{ name: 'http', containerPort: port }]);
    expect(container.resources.limits['nvidia.com/gpu']).toBe(1);
  });

  it('probes readiness, liveness and start-up on GET /health at the served port', () => {
    for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
      expect(container[probe]?.httpGet?.path, probe).toBe('/health');
      expect(portNumber(container[probe].httpGet.port), probe).toBe(port);
    }
    // A draining pod answers 503: liveness must not be able to kill it within the grace period.
    const liveness = container.livenessProbe;
    expect(liveness.periodSeconds * liveness.failureThreshold).toBeGreaterThan(podSpec.terminationGracePeriodSeconds);
    const drain = Number(container.args[container.args.indexOf('--drain-timeout') + 1]);
    expect(podSpec.terminationGracePeriodSeconds).toBeGreaterThan(drain);
  });

  it('mounts the models volume read-only at /models and runs as the image\'s non-root user', () => {
    const mount = container.volumeMounts.find((m: Doc) => m.mountPath === '/models');
    expect(mount?.readOnly).toBe(true);
    expect(podSpec.volumes.map((v: Doc) => v.name)).toContain(mount.name);
    expect(container.args[container.args.indexOf('--model') + 1]).toMatch(/^\/models\//);
    expect(podSpec.securityContext.runAsNonRoot).toBe(true);
    expect(`${podSpec.securityContext.runAsUser}:${podSpec.securityContext.runAsGroup}`).toBe(imageUser);
    const claim = podSpec.volumes.find((v: Doc) => v.name === mount.name).persistentVolumeClaim.claimName;
    expect(byKind('PersistentVolumeClaim').metadata.name).toBe(claim);
  });

  it('the Service selects the Deployment\'s pods and forwards to the served port', () => {
    const service = byKind('Service');
    for (const [key, value] of Object.entries(service.spec.selector)) {
      expect(deployment.spec.template.metadata.labels[key], key).toBe(value);
    }
    expect(service.spec.ports.map((p: Doc) => portNumber(p.targetPort))).toEqual([port]);
  });

  it('Prometheus scrapes /metrics on the served port', () => {
    const annotations = deployment.spec.template.metadata.annotations;
    expect(annotations['prometheus.io/scrape']).toBe('true');
    expect(Number(annotations['prometheus.io/port'])).toBe(port);
    expect(annotations['prometheus.io/path']).toBe('/metrics');
  });

  it('the HorizontalPodAutoscaler scales the Deployment on the queue-depth gauge the server exports', () => {
    const hpa = byKind('HorizontalPodAutoscaler');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
    expect(hpa.spec.metrics).toHaveLength(1);
    const metric = hpa.spec.metrics[0];
    expect(metric.type).toBe('Pods');
    expect(metric.pods.metric.name).toBe('torch_gen_queue_depth');
    expect(exportedMetrics).toContain(metric.pods.metric.name);
    expect(Number(metric.pods.target.averageValue)).toBeGreaterThan(0);
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(1);
  });

  it('the Prometheus adapter serves that gauge under the same name', () => {
    const values = parse(read('deploy/k8s/prometheus-adapter-values.yaml')) as Doc;
    const rules = values.rules.custom as Doc[];
    const hpaMetric = byKind('HorizontalPodAutoscaler').spec.metrics[0].pods.metric.name;
    const rule = rules.find((r) => r.name.as === hpaMetric);
    expect(rule, `no adapter rule serves ${hpaMetric}`).toBeDefined();
    expect(rule?.seriesQuery).toMatch(new RegExp(`^${hpaMetric}\\{`));
    expect(rule?.resources.overrides.pod.resource).toBe('pod');
  });

  it('kustomization.yaml lists every manifest', () => {
    const kustomization = byKind('Kustomization');
    const files = manifests.filter((m) => m.kind !== 'Kustomization').map((m) => m.file);
    expect([...kustomization.resources].sort()).toEqual([...new Set(files)].sort());
  });
});

describe('deploy › docker compose', () => {
  // Compose merges `<<: *anchor` keys (YAML 1.1 merge keys); so must the parser.
  const compose = parse(read('deploy/docker-compose.yml'), { merge: true }) as Doc;
  const services = Object.entries(compose.services as Record<string, Doc>);

  it('runs several replicas, each on its own GPU and host port, serving the image\'s port', () => {
    expect(services.length).toBeGreaterThanOrEqual(2);
    const gpus = services.map(([, s]) => s.deploy.resources.reservations.devices);
    for (const devices of gpus) {
      expect(devices).toHaveLength(1);
      expect(devices[0].driver).toBe('nvidia');
      expect(devices[0].capabilities).toEqual(['gpu']);
      expect(devices[0].device_ids).toHaveLength(1);
    }
    const ids = gpus.map((devices) => devices[0].device_ids[0]);
    expect(new Set(ids).size).toBe(ids.length);
    const published = services.map(([, s]) => {
      expect(s.ports).toHaveLength(1);
      const parts = String(s.ports[0]).split(':');
      expect(Number(parts.at(-1))).toBe(port);
      return parts.at(-2);
    });
    expect(new Set(published).size).toBe(published.length);
  });

  it('each replica serves on every interface of its container, from the image of package.json\'s version', () => {
    for (const [name, service] of services) {
      expect(service.image, name).toBe(`torch-gen:${pkg.version}`);
      expect(service.command[0], name).toBe('serve');
      expect(service.command[service.command.indexOf('--host') + 1], name).toBe('0.0.0.0');
      expect(service.command[service.command.indexOf('--port') + 1], name).toBe(String(port));
      expect(service.volumes.some((v: string) => /:\/models:ro$/.test(v)), name).toBe(true);
      expect(service.environment.TORCH_GEN_MODEL, name).toMatch(/^\/models\//);
    }
  });

  it('mentions nginx in front of the replicas', () => {
    expect(read('deploy/docker-compose.yml')).toMatch(/nginx[\s\S]*upstream[\s\S]*least_conn/);
  });
});

describe('deploy › metric names', () => {
  it('every torch_gen_* metric named in deploy/ and DEPLOYMENT.md is one the server exports', () => {
    const files = [...readdirSync(k8sDir).map((name) => join('deploy', 'k8s', name)), join('deploy', 'docker-compose.yml'), 'DEPLOYMENT.md'];
    const named = new Set(files.flatMap((file) => [...read(file).matchAll(/\btorch_gen_[a-z_]+/g)].map((m) => m[0])));
    expect(named.size).toBeGreaterThan(0);
    for (const name of named) {
      // A histogram's series carry _bucket, _sum and _count after its name.
      const base = name.replace(/_(bucket|sum|count)$/, '');
      expect(exportedMetrics.has(name) || exportedMetrics.has(base), `${name} is not exported by lib/server`).toBe(true);
    }
  });
});
