// The SAT configuration loader: the reference's own configs load, defaults are filled, unknown keys are
// reported with their path, bad values and bad files fail with one exact line, paths resolve against the
// config's folder, and JSON reads like YAML.
import test from 'ava';
import os from 'node:os';
import path from 'node:path';
import {
  ConfigError,
  UnknownConfigKeyError,
  loadConfig,
  parseConfig,
  type ConfigValues,
  type SatConfig,
} from '../../node/config/load.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const CONFIGS = path.join(ROOT, 'test/fixtures/sat-configs');
const FILE = '/teams/demo/sat.yaml'; // a config nowhere on disk: only its folder matters
const yaml = (text: string, file = FILE) => parseConfig(text, 'yaml', file);
const values = ({ source: _, ...rest }: SatConfig): ConfigValues => rest;

test('each reference config loads without warnings', (t) => {
  for (const name of ['sat_default', 'sat_demo', 'sat_pnp']) {
    const c = loadConfig(path.join(CONFIGS, `${name}.yaml`));
    t.deepEqual(c.source, { file: path.join(CONFIGS, `${name}.yaml`), format: 'yaml', warnings: [] }, name);
    t.is(c.sat.agents.length, 3, name);
  }
});

test('the values of sat_demo.yaml arrive under camelCase names', (t) => {
  const c = loadConfig(path.join(CONFIGS, 'sat_demo.yaml'));
  t.deepEqual(c.algorithm, {
    gamma: 0.99,
    lam: 0.95,
    klPenalty: 'kl',
    klCtrl: { type: 'per_state_quantile', klCoef: 0.001, targetKl: 0.1, quantile: 0.95 },
  });
  t.deepEqual(c.actorRolloutRef, {
    actor: {
      useKlLoss: true,
      klLossType: 'k1+',
      klLossCoef: 0.001,
      ppoEpochs: 1,
      ppoMiniBatchSize: 0,
      clipRatio: 0.2,
      lossAggMode: 'token-mean',
    },
    rollout: { n: 2 },
    ref: {},
  });
  t.deepEqual(c.data, { trainBatchSize: 6, maxPromptLength: 128, maxResponseLength: 16 });
  t.deepEqual(c.generation, { temperature: 0.8, topP: 1, enableThinking: false });
  const agents = [1, 2, 3].map((i) => ({
    name: `agent_${i}`,
    path: 'sat:tiny',
    upgrade: null,
    role: null,
    systemPrompt: null,
  }));
  t.deepEqual(c.sat, {
    epsilon: 0.2,
    advantageClip: 5,
    groupSize: 3,
    epsilonIs: 1e-5,
    maxIsRatioClip: 10,
    advMode: 'grpo',
    groupBaseline: 'mean',
    groupNorm: true,
    scheduler: { mode: 'static' },
    maxBacktracks: 2,
    maxStepGrowths: 3,
    stage0Delta: 0.01,
    agents,
  });
  t.deepEqual(c.training, {
    learningRate: 1e-5,
    weightDecay: 0.01,
    warmupSteps: 0,
    vfCoef: 0.1,
    clipVf: true,
    numStages: 2,
    lora: null,
  });
  t.deepEqual(c.evaluation, { numSamplesPerAgent: 2, ensembleStrategy: 'majority_vote' });
  t.deepEqual(c.certificate, { advantageMax: 5, deltaConf: 0.05, holdout: 0.125 });
  t.deepEqual(c.logging, {
    saveDir: path.join(CONFIGS, 'outputs/sat_demo'),
    checkpointEveryStage: 1,
    everyNSteps: 1,
    keepCheckpoints: 3,
  });
  t.deepEqual(c.dataset, {
    trainPath: path.join(CONFIGS, 'data/demo/train.jsonl'),
    testPath: path.join(CONFIGS, 'data/demo/test.jsonl'),
    type: 'demo',
  });
  t.deepEqual(c.team, { workflow: 'chain', turns: 'auto' });
  t.is(c.seed, 42);
});

test('sat_pnp.yaml names its upgrades and takes the defaults it leaves out', (t) => {
  const c = loadConfig(path.join(CONFIGS, 'sat_pnp.yaml'));
  t.deepEqual(
    c.sat.agents.map((a) => a.upgrade),
    [null, 'Qwen/Qwen3-8B-Instruct', 'Qwen/Qwen3-8B-Instruct'],
  );
  t.is(c.sat.epsilonIs, 1e-5);
  t.is(c.data.trainBatchSize, 512);
  t.is(c.training.weightDecay, 0.01);
  t.is(c.logging.checkpointEveryStage, 1);
});

test('an empty config is every default', (t) => {
  const c = yaml('');
  t.deepEqual(values(c), {
    algorithm: {
      gamma: 0.99,
      lam: 0.95,
      klPenalty: 'kl',
      klCtrl: { type: 'per_state_quantile', klCoef: 0.001, targetKl: 0.05, quantile: 0.99 },
    },
    actorRolloutRef: {
      actor: {
        useKlLoss: true,
        klLossType: 'k1+',
        klLossCoef: 0.001,
        ppoEpochs: 1,
        ppoMiniBatchSize: 0,
        clipRatio: 0.2,
        lossAggMode: 'token-mean',
      },
      rollout: { n: 4 },
      ref: {},
    },
    data: { trainBatchSize: 512, maxPromptLength: 512, maxResponseLength: 128 },
    generation: { temperature: 0.8, topP: 1, enableThinking: false },
    sat: {
      epsilon: 0.2,
      advantageClip: 5,
      groupSize: 4,
      epsilonIs: 1e-5,
      maxIsRatioClip: 10,
      advMode: 'grpo',
      groupBaseline: 'mean',
      groupNorm: true,
      scheduler: { mode: 'static' },
      maxBacktracks: 5,
      maxStepGrowths: 3,
      stage0Delta: 0.01,
      agents: [],
    },
    training: {
      learningRate: 1e-5,
      weightDecay: 0.01,
      warmupSteps: 100,
      vfCoef: 0.1,
      clipVf: true,
      numStages: 10,
      lora: null,
    },
    evaluation: { numSamplesPerAgent: 4, ensembleStrategy: 'majority_vote' },
    certificate: { advantageMax: 5, deltaConf: 0.05, holdout: 0.125 },
    logging: { saveDir: '/teams/demo/outputs/sat', checkpointEveryStage: 1, everyNSteps: 10, keepCheckpoints: 3 },
    dataset: { trainPath: null, testPath: null, type: null },
    team: { workflow: 'chain', turns: 'auto' },
    seed: 42,
  });
  t.deepEqual(c.source, { file: FILE, format: 'yaml', warnings: [] });
  t.deepEqual(values(parseConfig('{}', 'json', FILE)), values(c));
});

test('defaults fill around what a file sets, and A_max follows A_clip', (t) => {
  const c = yaml(
    'sat:\n  A_clip: 3\n  agents:\n    - path: ./a\n    - {name: critic, path: ./b}\ntraining:\n  lora: {}\n',
  );
  t.is(c.certificate.advantageMax, 3);
  t.deepEqual(
    c.sat.agents.map((a) => a.name),
    ['agent_1', 'critic'],
  );
  t.deepEqual(c.training.lora, { rank: 8, alpha: 16, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] });
  t.is(c.sat.groupSize, 4);
});

test('our own keys: team.workflow, training.lora, logging.keep_checkpoints and seed', (t) => {
  const c = yaml(
    'team:\n  workflow: ensemble\ntraining:\n  lora: {rank: 4, alpha: 8, targets: [q_proj, v_proj]}\nlogging: ' +
      '{keep_checkpoints: 0}\nseed: 7\n',
  );
  t.deepEqual(c.team, { workflow: 'ensemble', turns: 'auto' });
  t.is(c.logging.keepCheckpoints, 0);
  t.deepEqual(c.training.lora, { rank: 4, alpha: 8, targets: ['q_proj', 'v_proj'] });
  t.is(c.seed, 7);
  t.deepEqual(c.source.warnings, []);
});

test('our own keys for chat turns: team.turns, an agent role and system_prompt, generation.enable_thinking', (t) => {
  const c = yaml(`
team: {turns: chat}
generation: {enable_thinking: true}
sat:
  agents:
    - {name: a, path: Qwen/Qwen3-4B, role: critic}
    - {name: b, path: Qwen/Qwen3-4B, role: judge, system_prompt: Pick the better answer.}
`);
  t.is(c.team.turns, 'chat');
  t.true(c.generation.enableThinking);
  t.deepEqual(
    c.sat.agents.map((a) => [a.role, a.systemPrompt]),
    [
      ['critic', null],
      ['judge', 'Pick the better answer.'],
    ],
  );
  t.deepEqual(c.source.warnings, []);
  t.throws(() => yaml('team: {turns: chatty}'), { message: /team\.turns must be one of .*got "chatty"/ });
});

test('unknown keys are reported with their dotted path and do not stop loading', (t) => {
  const c = yaml(`
sat:
  group_size: 8
  shceduler: {mode: random}
  agents:
    - {name: a, path: Qwen/Qwen3-4B, weight: 2}
algorithm:
  kl_ctrl: {horizon: 10}
actor_rollout_ref:
  ref: {log_prob_micro_batch_size: 4}
debug: {allow_dummy_agents: true}
`);
  t.deepEqual(c.source.warnings, [
    'debug: unknown key, ignored',
    'algorithm.kl_ctrl.horizon: unknown key, ignored',
    'actor_rollout_ref.ref.log_prob_micro_batch_size: unknown key, ignored',
    'sat.shceduler: unknown key, ignored; did you mean `sat.scheduler`?',
    'sat.agents[0].weight: unknown key, ignored',
  ]);
  t.is(c.sat.groupSize, 8);
  t.is(c.sat.scheduler.mode, 'static');
});

test('an unknown key names the nearest known key of its section, or the same key in another section', (t) => {
  const c = yaml(`
algorithm: {kl_ctrl: {target_kll: 0.1}}
sat: {target_kl: 0.1, agents: [{name: a, path: Qwen/Qwen3-4B, sytem_prompt: Be brief.}]}
training: {lora: {rnak: 4}}
`);
  t.deepEqual(c.source.warnings, [
    'algorithm.kl_ctrl.target_kll: unknown key, ignored; did you mean `algorithm.kl_ctrl.target_kl`?',
    'sat.target_kl: unknown key, ignored; did you mean `algorithm.kl_ctrl.target_kl`?',
    'sat.agents[0].sytem_prompt: unknown key, ignored; did you mean `sat.agents[0].system_prompt`?',
    'training.lora.rnak: unknown key, ignored; did you mean `training.lora.rank`?',
  ]);
});

test('with unknown keys refused, the first is an UnknownConfigKeyError naming it and its nearest known key', (t) => {
  const text = 'sat: {group_size: 8}\nalgorithm: {kl_ctrl: {target_kll: 0.1}}\n';
  const err = t.throws(() => parseConfig(text, 'yaml', FILE, { unknownKeys: 'error' }), {
    instanceOf: UnknownConfigKeyError,
    message: `${FILE}: unknown key algorithm.kl_ctrl.target_kll; did you mean \`algorithm.kl_ctrl.target_kl\`?`,
  });
  t.is(err?.name, 'UnknownConfigKeyError');
  t.is(err?.key, 'algorithm.kl_ctrl.target_kll');
  t.true(err instanceof ConfigError);
  t.throws(() => parseConfig('debug: true\n', 'yaml', FILE, { unknownKeys: 'error' }), {
    message: `${FILE}: unknown key debug`,
  });
  t.is(parseConfig(text.replace('target_kll', 'target_kl'), 'yaml', FILE, { unknownKeys: 'error' }).sat.groupSize, 8);
});

const rejected: [string, string, string][] = [
  ['sat: {group_size: four}', 'sat.group_size', 'sat.group_size must be a positive integer, got "four"'],
  ['sat: {group_size: 2.5}', 'sat.group_size', 'sat.group_size must be a positive integer, got 2.5'],
  ['sat: {group_size: 0}', 'sat.group_size', 'sat.group_size must be a positive integer, got 0'],
  ['sat: {max_backtracks: -1}', 'sat.max_backtracks', 'sat.max_backtracks must be a non-negative integer, got -1'],
  ['algorithm: {gamma: 1.5}', 'algorithm.gamma', 'algorithm.gamma must be a number in (0, 1), got 1.5'],
  ['algorithm: {gamma: 0}', 'algorithm.gamma', 'algorithm.gamma must be a number in (0, 1), got 0'],
  [
    'algorithm: {kl_ctrl: {quantile: 1}}',
    'algorithm.kl_ctrl.quantile',
    'algorithm.kl_ctrl.quantile must be a number in (0, 1), got 1',
  ],
  [
    'algorithm: {kl_ctrl: {target_kl: .inf}}',
    'algorithm.kl_ctrl.target_kl',
    'algorithm.kl_ctrl.target_kl must be a number > 0, got Infinity',
  ],
  ['sat: {epsilon: 0}', 'sat.epsilon', 'sat.epsilon must be a number > 0, got 0'],
  ['sat: {A_clip: "5"}', 'sat.A_clip', 'sat.A_clip must be a number > 0, got "5"'],
  ['generation: {temperature: ~}', 'generation.temperature', 'generation.temperature must be a number >= 0, got null'],
  ['sat: {adv_mode: ppo}', 'sat.adv_mode', 'sat.adv_mode must be one of grpo | gae, got "ppo"'],
  [
    'sat: {scheduler: {mode: greedy}}',
    'sat.scheduler.mode',
    'sat.scheduler.mode must be one of static | random | greedy_info_gain, got "greedy"',
  ],
  ['team: {workflow: pipeline}', 'team.workflow', 'team.workflow must be one of chain | ensemble, got "pipeline"'],
  ['sat: {group_norm: "yes"}', 'sat.group_norm', 'sat.group_norm must be true or false, got "yes"'],
  ['sat: {scheduler: static}', 'sat.scheduler', 'sat.scheduler must be a mapping, got "static"'],
  ['sat: {agents: {name: a}}', 'sat.agents', 'sat.agents must be a list, got {"name":"a"}'],
  [
    'sat: {agents: [{path: ./a}, {name: b}]}',
    'sat.agents[1].path',
    'sat.agents[1].path must be a model folder or repo id, got nothing',
  ],
  [
    'sat: {agents: [{path: ./a, upgrade: 8}]}',
    'sat.agents[0].upgrade',
    'sat.agents[0].upgrade must be a model folder or repo id, or null, got 8',
  ],
  [
    'dataset: {train_path: [a.jsonl]}',
    'dataset.train_path',
    'dataset.train_path must be a path or null, got ["a.jsonl"]',
  ],
  [
    'training: {lora: {targets: []}}',
    'training.lora.targets',
    'training.lora.targets must be a non-empty list of strings, got []',
  ],
  ['seed: -3', 'seed', 'seed must be a non-negative integer, got -3'],
  [
    'certificate: {A_max: 2}',
    'certificate.A_max',
    'certificate.A_max must be >= sat.A_clip (5) for the bound to hold, got 2',
  ],
  [
    'sat: {agents: [{path: ./a}, {name: agent_1, path: ./b}]}',
    'sat.agents[1].name',
    'sat.agents[1].name must be unique in the team, got "agent_1" twice',
  ],
];

test('wrong types, enum values and ranges are one exact line naming the key', (t) => {
  for (const [text, key, message] of rejected) {
    const e = t.throws(() => yaml(text), { instanceOf: ConfigError }, text);
    t.is(e?.name, 'ConfigError');
    t.is(e?.message, message);
    t.is(e?.key, key);
    t.is(e?.file, FILE);
  }
});

test('relative paths resolve against the config file, not the working directory', (t) => {
  const c = yaml(`
dataset: {train_path: data/train.jsonl, test_path: ../shared/test.jsonl}
logging: {save_dir: /var/runs/sat}
sat:
  agents:
    - {path: ./models/a, upgrade: ../models/b}
    - {path: Qwen/Qwen3-4B}
    - {path: qwen3-4b, upgrade: ~/models/c}
`);
  t.is(c.dataset.trainPath, '/teams/demo/data/train.jsonl');
  t.is(c.dataset.testPath, '/teams/shared/test.jsonl');
  t.is(c.logging.saveDir, '/var/runs/sat');
  t.deepEqual(
    c.sat.agents.map((a) => [a.path, a.upgrade]),
    [
      ['/teams/demo/models/a', '/teams/models/b'],
      ['Qwen/Qwen3-4B', null], // a Hugging Face repo id: nothing of that name beside the config
      ['qwen3-4b', path.join(os.homedir(), 'models/c')],
    ],
  );
  t.is(yaml('logging: {save_dir: "~"}').logging.saveDir, os.homedir());
});

test('a bare model name that is a folder beside the config resolves to it', (t) => {
  const file = path.join(ROOT, 'test/fixtures/team.yaml');
  const c = yaml('sat:\n  agents:\n    - {path: qwen3-tiny-a}\n', file);
  t.is(c.sat.agents[0]!.path, path.join(ROOT, 'test/fixtures/qwen3-tiny-a'));
});

test('a JSON config loads exactly like its YAML', (t) => {
  const fromYaml = loadConfig(path.join(CONFIGS, 'sat_demo.yaml'));
  const fromJson = loadConfig(path.join(CONFIGS, 'sat_demo.json'));
  t.is(fromJson.source.format, 'json');
  t.deepEqual(values(fromJson), values(fromYaml));
  t.deepEqual(fromJson.source.warnings, fromYaml.source.warnings);
});

test('a missing file or unparsable text is a ConfigError naming the file and line', (t) => {
  const missing = path.join(CONFIGS, 'nope.yaml');
  t.throws(() => loadConfig(missing), {
    instanceOf: ConfigError,
    message: `cannot read config ${missing}: no such file`,
  });
  t.throws(() => loadConfig(CONFIGS), {
    instanceOf: ConfigError,
    message: `cannot read config ${CONFIGS}: it is a folder`,
  });
  t.throws(() => yaml('sat:\n  group_size: 4\n  group_size: 5\n'), {
    instanceOf: ConfigError,
    message: `cannot parse YAML config ${FILE}: line 3, column 3: Map keys must be unique`,
  });
  t.throws(() => yaml('sat: [1\n'), {
    instanceOf: ConfigError,
    message: /^cannot parse YAML config \/teams\/demo\/sat\.yaml: line 2, column 1: /,
  });
  t.throws(() => parseConfig('{\n  "sat": {\n    "group_size": 4,\n  }\n}', 'json', '/teams/demo/sat.json'), {
    instanceOf: ConfigError,
    message: /^cannot parse JSON config \/teams\/demo\/sat\.json: line 4, column 3: /,
  });
  t.throws(() => yaml('- sat\n- algorithm\n'), {
    instanceOf: ConfigError,
    message: `config ${FILE} must be a mapping of sections (algorithm:, sat:, ...), got ["sat","algorithm"]`,
  });
});

test('loaded configs share no mutable defaults', (t) => {
  const a = yaml('training: {lora: {}}');
  a.training.lora!.targets.push('gate_proj');
  t.deepEqual(yaml('training: {lora: {}}').training.lora!.targets, ['q_proj', 'k_proj', 'v_proj', 'o_proj']);
});

test('gamma 1 and agent names that cannot name a file are refused', (t) => {
  t.throws(() => parseConfig('algorithm: { gamma: 1 }', 'yaml', '/tmp/c.yaml'), {
    name: 'ConfigError',
    message: /algorithm\.gamma must be a number in \(0, 1\)/,
  });
  t.throws(() => parseConfig('sat: { agents: [{ name: a/b, path: x }] }', 'yaml', '/tmp/c.yaml'), {
    name: 'ConfigError',
    message: /sat\.agents\[0\]\.name may hold only letters/,
  });
});
