#!/usr/bin/env bash
# A hostile user's session with the HfRl sample, scripted: long runs near the context limit, TLT on against
# TLT off, resumes from many checkpoints, kill -9 and Ctrl+C mid-run, damaged checkpoint files, bad flags
# and inputs, two runs on one output folder, and a resume with other settings. Each check prints "ok" or
# "FAIL" with what it saw; the last line is "N passed, N failed" and the exit status is 0 only if all passed.
#
#   bash scripts/hostile-hfrl.sh            # the whole script (150-step runs, 8 resume points, 6 kills; ~15 min here)
#   bash scripts/hostile-hfrl.sh --short    # what CI runs (20-step runs, 3 resume points, 2 kills; ~2 min)
#
# Needs the TinyStories-656K checkpoint at ../shared/models/tinystories-656k (from the repository root; it is
# copied, never modified) and HfRl built in Release (dotnet build -c Release samples/HfRl). Without the model
# it says so and passes nothing and fails nothing.
set -uo pipefail
cd "$(dirname "$0")/.."

steps=150; resume_points="1 5 17 33 66 93 120 141"; kills=6
if [ "${1:-}" = "--short" ]; then steps=20; resume_points="3 9 16"; kills=2; fi

model_src="../shared/models/tinystories-656k"
hfrl="${HFRL_DLL:-samples/HfRl/bin/Release/net10.0/HfRl.dll}"   # HFRL_DLL: a copy of the build, so that rebuilding meanwhile cannot disturb a long run
if [ ! -d "$model_src" ]; then echo "hostile-hfrl: $model_src not found; skipped"; echo "0 passed, 0 failed"; exit 0; fi
if [ ! -f "$hfrl" ]; then dotnet build -c Release samples/HfRl >/dev/null || { echo "hostile-hfrl: could not build HfRl"; echo "0 passed, 1 failed"; exit 1; }; fi

work="$(mktemp -d)"; trap 'wait; rm -rf "$work" 2>/dev/null || { sleep 1; rm -rf "$work"; }' EXIT
cp -r "$model_src" "$work/model"
# Twenty story openings with numeric answers; three are long, so the default context (longest prompt + 32) is
# tight for them and speculation runs near its end.
{
  for i in $(seq 0 16); do printf '{"prompt": "Once upon a time there was a child number %d who liked", "answer": "%d"}\n' "$i" "$((i % 3))"; done
  echo '{"prompt": "One day, a little girl named Lily went to the park with her mom and her dog, and they saw a big tree with", "answer": "1"}'
  echo '{"prompt": "Tom had a red ball and a blue car. He played with them every day in the garden near the house where", "answer": "2"}'
  echo '{"prompt": "The sun was bright and the birds were singing when Ben and Sue walked to the old bridge over the river to", "answer": "0"}'
} > "$work/prompts.jsonl"

passed=0; failed=0
check() { # check NAME CONDITION-COMMAND...
  local name="$1"; shift
  if "$@"; then echo "ok   $name"; passed=$((passed + 1)); else echo "FAIL $name"; failed=$((failed + 1)); fi
}
run=(dotnet "$hfrl" --model "$work/model" --prompts "$work/prompts.jsonl" --prompts-per-step 2 --group 4 --max-new-tokens 32 --seed 7
  --lr 1e-3 --format 'happy|sad' --checkpoint-every 1)
hfrl() { "${run[@]}" "$@"; }          # background jobs start "${run[@]}" directly, so that $! is dotnet's own pid
# The per-step facts that must match between two runs: step, rewards, response lengths, loss.
facts() { grep -o '"step":[0-9]*\|"reward/mean":[^,]*\|"response/lengths":\[[^]]*\]\|"update/loss":[^,]*' "$1" | paste -d' ' - - - -; }
from_step() { awk -v k="$2" '{ split($1, a, ":"); if (a[2] + 0 >= k) print }' <(facts "$1"); }

# 1. Uninterrupted runs, TLT on and off: no crash near the context limit, and the same run either way.
hfrl --steps "$steps" --out "$work/on" > "$work/on.log" 2>&1; on_status=$?
check "TLT on: $steps steps near the context limit finish (exit $on_status)" [ "$on_status" -eq 0 ]
hfrl --steps "$steps" --out "$work/off" --tlt off > "$work/off.log" 2>&1
check "TLT off: $steps steps finish" [ -f "$work/off/checkpoints/step-$(printf %06d "$steps")/manifest.json" ]
check "TLT on equals TLT off for the same seed (rewards, lengths, losses of every step)" diff -q <(facts "$work/on/metrics.jsonl") <(facts "$work/off/metrics.jsonl")

# 2. Resume from several of the run's own checkpoints: the continuation equals the uninterrupted run.
for k in $resume_points; do
  [ "$k" -lt "$steps" ] || continue
  out="$work/resume-$k"; mkdir -p "$out/checkpoints"
  cp -r "$work/on/checkpoints/step-$(printf %06d "$k")" "$out/checkpoints/"
  hfrl --steps "$steps" --out "$out" --resume > "$out.log" 2>&1
  check "resumed from step $k equals the uninterrupted run" diff -q <(from_step "$work/on/metrics.jsonl" "$k") <(from_step "$out/metrics.jsonl" "$k")
done

# 3. kill -9 at arbitrary moments (checkpoint writes included), then resume: whole checkpoints, the same run.
out="$work/killed"
for i in $(seq 1 "$kills"); do
  flag=""; [ -d "$out/checkpoints" ] && flag="--resume"
  "${run[@]}" --steps "$steps" --out "$out" $flag > /dev/null 2>&1 &
  pid=$!; sleep "$((3 + i * 2)).$((RANDOM % 10))"; kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
done
hfrl --steps "$steps" --out "$out" --resume > "$out.log" 2>&1
check "after $kills kill -9s the resumed run finishes and equals the uninterrupted one" diff -q <(facts "$work/on/metrics.jsonl") <(facts "$out/metrics.jsonl")

# 4. Ctrl+C mid-run: the checkpoint it writes holds no trace of the cancelled step, so the resume equals the uninterrupted run.
out="$work/interrupted"
set -m                       # job control: the background run gets SIGINT's default handling (a script's jobs otherwise ignore it)
"${run[@]}" --steps "$steps" --out "$out" > "$out.log" 2>&1 &
pid=$!
set +m
for _ in $(seq 1 300); do grep -q "^step    4:" "$out.log" 2>/dev/null && break; sleep 0.1; done
kill -INT "$pid"; wait "$pid"; int_status=$?
check "Ctrl+C stops with exit 130 ($int_status) and a checkpoint" [ "$int_status" -eq 130 ] && [ -f "$out/checkpoints/latest" ]
hfrl --steps "$steps" --out "$out" --resume > "$out.2.log" 2>&1
check "the run resumed after Ctrl+C equals the uninterrupted one" diff -q <(facts "$work/on/metrics.jsonl") <(facts "$out/metrics.jsonl")

# 5. Damaged checkpoints: refused or skipped, with the file named.
out="$work/damaged"; mkdir -p "$out/checkpoints"; cp -r "$work/on/checkpoints/step-000002" "$work/on/checkpoints/step-000003" "$out/checkpoints/"
: > "$out/checkpoints/step-000003/trainer_state.json"
hfrl --steps 4 --out "$out" --resume > "$out.log" 2>&1
check "an emptied trainer_state.json: the checkpoint before it is resumed, and the file is named" \
  grep -q "step-000003 is not a complete checkpoint (trainer_state.json has 0 bytes" "$out.log"
out="$work/damaged2"; mkdir -p "$out/checkpoints"; cp -r "$work/on/checkpoints/step-000002" "$out/checkpoints/"
head -c 100 "$work/on/checkpoints/step-000002/optimizer.bin" > "$out/checkpoints/step-000002/optimizer.bin"
hfrl --steps 4 --out "$out" --resume > "$out.log" 2>&1; status=$?
check "a truncated optimizer.bin: exit 2 ($status), the file named" [ "$status" -eq 2 ] && grep -q "optimizer.bin has 100 bytes" "$out.log"
out="$work/damaged3"; mkdir -p "$out/checkpoints"; cp -r "$work/on/checkpoints/step-000002" "$out/checkpoints/"
tr '\000-\377' '{' < "$work/on/checkpoints/step-000002/trainer_state.json" > "$out/ts" && mv "$out/ts" "$out/checkpoints/step-000002/trainer_state.json"
hfrl --steps 4 --out "$out" --resume > "$out.log" 2>&1; status=$?
check "a garbled trainer_state.json: exit 2 ($status), the file named" [ "$status" -eq 2 ] && grep -q "trainer_state.json: not a valid trainer state" "$out.log"

# 6. Bad flags and inputs: exit 2, the flag or line named, nothing left behind.
for lr in 1e300 1e10 -1 nan; do
  hfrl --steps 2 --out "$work/lr" --lr "$lr" > "$work/lr.log" 2>&1; status=$?
  check "--lr $lr: exit 2 ($status), named, no output folder" [ "$status" -eq 2 ] && grep -q -- "--lr" "$work/lr.log" && [ ! -e "$work/lr" ]
done
printf '{"prompt": "Once upon a time", "answer": "1"}\n{"prompt": "", "answer": "2"}\n' > "$work/empty.jsonl"
dotnet "$hfrl" --model "$work/model" --prompts "$work/empty.jsonl" --steps 1 --out "$work/empty" > "$work/empty.log" 2>&1; status=$?
check "an empty prompt: exit 2 ($status), its line named" [ "$status" -eq 2 ] && grep -q "empty.jsonl:2:" "$work/empty.log"

# 7. Two runs on one --out: the second is refused while the first runs.
out="$work/shared"
"${run[@]}" --steps "$steps" --out "$out" > "$out.1.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do [ -f "$out/.lock.owner" ] && break; sleep 0.2; done
hfrl --steps "$steps" --out "$out" --resume > "$out.2.log" 2>&1; status=$?
kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
check "a second run on the same --out: exit 2 ($status), 'in use by another run'" [ "$status" -eq 2 ] && grep -q "in use by another run" "$out.2.log"

# 8. Resume with other settings: refused naming the flags, or accepted and recorded when allowed.
out="$work/settings"; mkdir -p "$out/checkpoints"; cp -r "$work/on/checkpoints/step-000002" "$out/checkpoints/"
hfrl --steps 3 --out "$out" --resume --group 8 > "$out.log" 2>&1; status=$?
check "--resume with another --group: exit 2 ($status), the flag named" [ "$status" -eq 2 ] && grep -q -- "--group 4 → 8" "$out.log"
hfrl --steps 3 --out "$out" --resume --group 8 --allow-changed-settings > "$out.2.log" 2>&1; status=$?
check "... and with --allow-changed-settings it runs (exit $status) and records the change" [ "$status" -eq 0 ] && grep -q '"run/settings_changed":\["GroupSize 4' "$out/metrics.jsonl"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
