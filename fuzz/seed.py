"""Writes the seed corpora of the fuzz targets, from the repository's own samples, into the
directory given (one folder per target): `python3 fuzz/seed.py /tmp/seeds`. The committed
corpora under fuzz/corpus/ started from these seeds, then were fuzzed and minimised."""
import datetime, glob, json, os, re, sys
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
seeds = sys.argv[1]
for t in ['manifest','cron','recordio','mesos_event']:
    os.makedirs(f'{seeds}/{t}', exist_ok=True)
def put(t, name, data):
    if isinstance(data, str): data = data.encode()
    open(f'{seeds}/{t}/{name}', 'wb').write(data)

# manifests: the invalid corpus, valid variants of it, and the YAML in tars-api's unit tests
inv = sorted(glob.glob(f'{root}/tars-api/tests/corpus/invalid/*'))
for p in inv:
    put('manifest', 'invalid-' + os.path.basename(p), open(p,'rb').read())
def fix(p, fn):
    text = open(p).read().split('\n',1)[1]
    v = json.loads(text); fn(v); return v
dep = fix(f'{root}/tars-api/tests/corpus/invalid/deployment-strategy-unknown.yaml', lambda v: v['spec'].__setitem__('strategy', {'type':'RollingUpdate'}) )
cron = fix(f'{root}/tars-api/tests/corpus/invalid/cron-concurrency-unknown.yaml', lambda v: v['spec'].__setitem__('concurrency','Forbid'))
put('manifest','valid-deployment.json', json.dumps(dep, indent=1))
put('manifest','valid-cronjob.json', json.dumps(cron))
group = {'apiVersion':'tars/v1','kind':'ContainerGroup','metadata':{'name':'web','labels':{'app':'web'}},'spec':dep['spec']['template']['spec']}
put('manifest','valid-group.json', json.dumps(group))
iso = json.loads(json.dumps(cron)); iso['metadata']['name']='hourly'; iso['spec']['schedule']='R5/2026-01-01T00:00:00Z/PT1H'
put('manifest','valid-stream.yaml', '\n---\n'.join(json.dumps(x) for x in [group, dep, iso]) + '\n---\n')
for src in ['tars-api/src/manifest.rs', 'tars-api/src/validate.rs']:
    for i, m in enumerate(re.findall(r'r#"(\napiVersion: tars/v1.*?)"#', open(f'{root}/{src}').read(), re.S)):
        put('manifest', f'unit-{os.path.basename(src)[:-3]}-{i}.yaml', m)

# schedules: every literal of schedule.rs' tests, with the zone and start of the call
text = open(f'{root}/tars-api/src/schedule.rs').read()
tzs = {'berlin': 'Europe/Berlin', 'ny': 'America/New_York'}
n = 0
exprs = set()
for m in re.finditer(r'(?:next_n|schedule|parse_err)\(\s*"([^"]*)",\s*(None|Some\("([^"]+)"\)|berlin|ny)(?:,\s*"([^"]+)")?', text):
    expr, tzarg, tzname, after = m.groups()
    tz = tzname or tzs.get(tzarg, '')
    line3 = ''
    if after:
        a = after.replace('Z','+00:00')
        line3 = str(int(datetime.datetime.fromisoformat(a).timestamp()))
    put('cron', f'unit-{n:03}', f'{expr}\n{tz}\n{line3}'); n += 1
    exprs.add(expr)
for p in inv:
    t = open(p, errors='replace').read()
    for s in re.findall(r'"schedule":\s*"([^"]*)"|schedule:\s*"?([^"\n]*)"?', t):
        s = s[0] or s[1]
        if s and s not in exprs:
            exprs.add(s); put('cron', f'corpus-{n:03}', f'{s}\nEurope/Berlin\n'); n += 1
for s in ['@yearly','@monthly','@weekly','@daily','@hourly','@midnight','@annually','0 0 29 2 *','0 0 L * *','0 0 ? * MON#2','0 0 15W * *','R3/2026-01-31T00:00:00Z/P1M','R/2026-03-29T01:30:00+01:00/P1DT1H','R/2026-01-01T00:00:00Z/PT0.5S']:
    if s not in exprs:
        put('cron', f'extra-{n:03}', f'{s}\nAustralia/Lord_Howe\n1774000000'); n += 1

# RecordIO streams: the captured streams, cut in a few ways, with a few limits
streams = sorted(glob.glob(f'{root}/backend-mesos/src/v1/testdata/mesos-1.11/*.recordio'))
for p in streams:
    data = open(p,'rb').read()
    b = os.path.basename(p)[:-9]
    put('recordio', f'{b}-bytewise', bytes([0,0]) + data)
    put('recordio', f'{b}-by7', bytes([0,1,7]) + data)
    put('recordio', f'{b}-mixed', bytes([0,4,1,0,13,200]) + data)
for name, data in [('small', b'5\nhello1\n!0\n3\nabc'), ('too-large', b'3\nabc9\n123456789'), ('bad-header', b'2\nab+3\nabc'), ('truncated', b'10\nabc'), ('long-header', b'123456789012345678901234\n')]:
    put('recordio', f'synthetic-{name}', bytes([8,2,2,3]) + data)

# Mesos JSON: documentation samples, operator responses, and every event of the streams
for p in sorted(glob.glob(f'{root}/backend-mesos/src/v1/testdata/*.json') + glob.glob(f'{root}/backend-mesos/src/v1/testdata/mesos-1.11/*.json')):
    put('mesos_event', os.path.basename(p)[:-5], open(p,'rb').read())
for p in streams:
    data = open(p,'rb').read(); i = 0; k = 0
    while i < len(data):
        nl = data.index(b'\n', i); ln = int(data[i:nl]); rec = data[nl+1:nl+1+ln]; i = nl+1+ln
        put('mesos_event', f'{os.path.basename(p)[:-9]}-{k}', rec); k += 1
for t in os.listdir(seeds):
    print(t, len(os.listdir(f'{seeds}/{t}')))
