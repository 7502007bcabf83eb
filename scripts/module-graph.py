#!/usr/bin/env python3
"""Prints the library's module graph (crates/agentlane/src, top-level modules; doc
comments and tests left out), its cycles and the largest source files, at a git
revision: scripts/module-graph.py REV. tests/module_graph.rs is the check; this is the
report used in issue 15's note."""
import os,re,sys,subprocess,collections
rev=sys.argv[1] if len(sys.argv) > 1 else 'HEAD'
ROOT=os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
files=subprocess.run(['git','-C',ROOT,'ls-tree','-r','--name-only',rev,'crates/agentlane/src'],capture_output=True,text=True).stdout.split()
edges=collections.defaultdict(set); sizes=[]
allfiles=subprocess.run(['git','-C',ROOT,'ls-tree','-r','--name-only',rev,'crates'],capture_output=True,text=True).stdout.split()
for f in allfiles:
    if f.endswith('.rs') and '/src/' in f:
        t=subprocess.run(['git','-C',ROOT,'show',f'{rev}:{f}'],capture_output=True,text=True).stdout
        sizes.append((t.count('\n'),f))
for f in files:
    if not f.endswith('.rs'): continue
    rel=f[len('crates/agentlane/src/'):]
    top=rel.split('/')[0].removesuffix('.rs')
    if top in ('lib','main'): continue
    t=subprocess.run(['git','-C',ROOT,'show',f'{rev}:{f}'],capture_output=True,text=True).stdout
    # drop test modules crudely: cut at '#[cfg(test)]\nmod tests'
    t=re.split(r'#\[cfg\(test\)\]\s*mod tests\s*\{',t)[0]
    t='\n'.join(l for l in t.split('\n') if not l.strip().startswith('//'))
    if re.search(r'(tests|props|_tests)\.rs$',rel) or '/conformance/' in rel: continue
    for m in re.finditer(r'crate::(\w+)',t): edges[top].add(m.group(1))
    for m in re.finditer(r'use crate::\{([^}]*)\}',t,re.S):
        for name in re.findall(r'(?:^|,)\s*(\w+)',m.group(1)): edges[top].add(name)
mods=set(edges)|{x for v in edges.values() for x in v}
mods={m for m in mods if m in {f[len('crates/agentlane/src/'):].split('/')[0].removesuffix('.rs') for f in files}}
g={m:sorted(x for x in edges.get(m,()) if x in mods and x!=m) for m in sorted(mods)}
# tarjan
idx={};low={};st=[];on=set();sccs=[];c=[0]
def sc(v):
    idx[v]=low[v]=c[0];c[0]+=1;st.append(v);on.add(v)
    for w in g[v]:
        if w not in idx: sc(w);low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],idx[w])
    if low[v]==idx[v]:
        comp=[]
        while True:
            w=st.pop();on.discard(w);comp.append(w)
            if w==v:break
        sccs.append(comp)
sys.setrecursionlimit(10000)
for v in g:
    if v not in idx: sc(v)
cyc=[s for s in sccs if len(s)>1]
for m,v in g.items(): print(f'{m} -> {", ".join(v)}')
print('cycles:',cyc if cyc else 'none')
print('largest files:'); [print(f'  {n} {f}') for n,f in sorted(sizes,reverse=True)[:8]]
