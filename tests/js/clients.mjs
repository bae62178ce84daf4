// The official JavaScript SDKs (openai, @anthropic-ai/sdk) against a thinkswitch server.
//
//   node clients.mjs SCENARIO   (env: THINKSWITCH_URL = the server's root, THINKSWITCH_KEY)
//
// Each scenario makes its calls the way an application would and prints what the SDK handed
// back as one JSON object on stdout; tests/test_clients_js.py asserts on the values. A failure
// the SDK raises where none was expected exits non-zero with its message on stderr.
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";

const root = process.env.THINKSWITCH_URL;
const key = process.env.THINKSWITCH_KEY ?? "unused";
const MODEL = process.env.THINKSWITCH_MODEL ?? "scripted-model";
const QUESTION = [{ role: "user", content: "How many apples are in 3 boxes of 4?" }];

function openai(options = {}) {
  return new OpenAI({ baseURL: `${root}/v1`, apiKey: key, maxRetries: 0, ...options });
}

function anthropic(options = {}) {
  return new Anthropic({ baseURL: root, apiKey: key, maxRetries: 0, ...options });
}

/** What a typed SDK error carries, or the reason it was not one. */
function described(error, sdk) {
  const body = error.error ?? {};
  return {
    class: error.constructor.name,
    isApiError: error instanceof sdk.APIError,
    status: error.status,
    message: error.message,
    type: error.type ?? body.type ?? null,
    code: error.code ?? null,
    param: error.param ?? null,
    innerType: body.error?.type ?? null,
    retryAfter: error.headers?.get?.("retry-after") ?? null,
  };
}

async function failure(call, sdk) {
  try {
    await call();
  } catch (error) {
    return described(error, sdk);
  }
  throw new Error("the call succeeded where an error was expected");
}

const scenarios = {
  async "chat-create"() {
    const completion = await openai().chat.completions.create({
      model: MODEL, messages: QUESTION, reasoning_effort: "low",
    });
    const choice = completion.choices[0];
    return {
      object: completion.object, content: choice.message.content,
      reasoning: choice.message.reasoning_content ?? null, finish: choice.finish_reason,
      usage: completion.usage,
    };
  },

  async "chat-stream"() {
    const stream = await openai().chat.completions.create({
      model: MODEL, messages: QUESTION, reasoning_effort: "low", stream: true,
      stream_options: { include_usage: true },
    });
    const order = [];
    let reasoning = "", content = "", finish = null, usage = null;
    for await (const chunk of stream) {
      if (chunk.usage) { usage = chunk.usage; order.push("usage"); }
      for (const choice of chunk.choices) {
        if (choice.delta.reasoning_content) {
          reasoning += choice.delta.reasoning_content;
          if (order.at(-1) !== "reasoning") order.push("reasoning");
        }
        if (choice.delta.content) {
          content += choice.delta.content;
          if (order.at(-1) !== "content") order.push("content");
        }
        if (choice.finish_reason) { finish = choice.finish_reason; order.push("finish"); }
      }
    }
    return { order, reasoning, content, finish, usage };
  },

  async "chat-stream-helper"() {
    const stream = openai().chat.completions.stream({
      model: MODEL, messages: QUESTION, reasoning_effort: "low",
      stream_options: { include_usage: true },
    });
    const deltas = [];
    let reasoning = "";
    // The helper keeps only the last fragment of a field it does not know (reasoning_content)
    // in its snapshot, as it would from any server: the reasoning is read from the chunks.
    stream.on("content.delta", ({ delta }) => deltas.push(delta));
    stream.on("chunk", (chunk) => { reasoning += chunk.choices[0]?.delta?.reasoning_content ?? ""; });
    const final = await stream.finalChatCompletion();
    return {
      deltas, reasoning, content: final.choices[0].message.content,
      finish: final.choices[0].finish_reason, usage: final.usage ?? null,
      finalContent: await stream.finalContent(),
    };
  },

  async "chat-tools"() {
    const tools = [{
      type: "function",
      function: {
        name: "get_weather", description: "The weather in a city",
        parameters: { type: "object", properties: { city: { type: "string" } },
                      required: ["city"] },
      },
    }];
    const messages = [{ role: "user", content: "Weather in Paris?" }];
    const whole = await openai().chat.completions.create({ model: MODEL, messages, tools });
    const streamed = openai().chat.completions.stream({ model: MODEL, messages, tools });
    const argumentsDone = [];
    streamed.on("tool_calls.function.arguments.done", (event) => argumentsDone.push(
      { name: event.name, arguments: event.arguments, parsed: event.parsed_arguments }));
    const final = await streamed.finalChatCompletion();
    const called = [];
    const runner = openai().chat.completions.runTools({
      model: MODEL, messages,
      tools: [{
        type: "function",
        function: {
          name: "get_weather", parameters: tools[0].function.parameters, parse: JSON.parse,
          function: (args) => { called.push(args); return { city: args.city, sky: "sunny" }; },
        },
      }],
    });
    const answer = await runner.finalContent();
    return {
      whole: { finish: whole.choices[0].finish_reason, calls: whole.choices[0].message.tool_calls,
               content: whole.choices[0].message.content },
      streamed: { finish: final.choices[0].finish_reason,
                  calls: final.choices[0].message.tool_calls, argumentsDone },
      runTools: { called, answer, messages: runner.messages.map((m) => m.role) },
    };
  },

  async "responses"() {
    const client = openai();
    const whole = await client.responses.create({
      model: MODEL, input: "How many apples?", reasoning: { effort: "low" },
    });
    const stream = client.responses.stream({
      model: MODEL, input: "How many apples?", reasoning: { effort: "low", summary: "auto" },
    });
    const events = [];
    let text = "", reasoning = "", summary = "";
    for await (const event of stream) {
      events.push(event.type);
      if (event.type === "response.output_text.delta") text += event.delta;
      if (event.type === "response.reasoning_text.delta") reasoning += event.delta;
      if (event.type === "response.reasoning_summary_text.delta") summary += event.delta;
    }
    const final = await stream.finalResponse();
    const tool = { type: "function", name: "get_weather",
                   parameters: { type: "object", properties: { city: { type: "string" } } } };
    const calling = client.responses.stream({ model: MODEL, input: "Weather in Paris?",
                                              tools: [tool] });
    const callEvents = [];
    for await (const event of calling) callEvents.push(event.type);
    const called = (await calling.finalResponse()).output;
    return {
      call: { events: callEvents, output: called.map((item) => ({
        type: item.type, name: item.name, arguments: item.arguments })) },
      whole: { status: whole.status, text: whole.output_text, usage: whole.usage,
               kinds: whole.output.map((item) => item.type) },
      streamed: { events, text, reasoning, summary, finalText: final.output_text,
                  usage: final.usage, status: final.status,
                  finalReasoning: final.output[0].content?.map((part) => part.text) ?? null,
                  finalSummary: final.output[0].summary?.map((part) => part.text) ?? null },
    };
  },

  async "models"() {
    const openaiIds = [];
    for await (const model of openai().models.list()) openaiIds.push(model.id);
    const retrieved = await openai().models.retrieve(MODEL);
    const anthropicIds = [];
    for await (const model of anthropic().models.list()) anthropicIds.push(model.id);
    return { openai: openaiIds, retrieved: retrieved.id, anthropic: anthropicIds };
  },

  async "messages"() {
    const client = anthropic();
    const params = {
      model: MODEL, max_tokens: 1000, messages: QUESTION,
      thinking: { type: "enabled", budget_tokens: 500 },
    };
    const whole = await client.messages.create(params);
    const stream = client.messages.stream(params);
    const events = [];
    let thinking = "", text = "";
    stream.on("thinking", (delta) => { thinking += delta; });
    stream.on("text", (delta) => { text += delta; });
    stream.on("streamEvent", (event) => {
      const kind = event.delta?.type ?? event.content_block?.type;
      events.push(kind ? `${event.type}:${kind}` : event.type);
    });
    const final = await stream.finalMessage();
    const counted = await client.messages.countTokens({ model: MODEL, messages: QUESTION });
    const schema = { type: "object", properties: { count: { type: "integer" },
                                                   unit: { type: "string" } } };
    const parsed = await client.messages.parse({
      model: MODEL, max_tokens: 1000, messages: QUESTION,
      output_config: { format: { type: "json_schema", schema } } });
    return {
      whole: { stop: whole.stop_reason, blocks: whole.content, usage: whole.usage },
      streamed: { events, thinking, text, stop: final.stop_reason, blocks: final.content,
                  usage: final.usage, finalText: await stream.finalText() },
      counted, parsed: parsed.parsed_output,
    };
  },

  // The engine fails after its thinking: each SDK must raise, having handed over the thinking.
  async "stream-errors"() {
    const failing = [{ role: "user", content: "FAIL_MIDWAY" }];
    const seen = {};
    let reasoning = "";
    seen.chat = await failure(async () => {
      const stream = await openai().chat.completions.create({
        model: MODEL, messages: failing, reasoning_effort: "low", stream: true });
      for await (const chunk of stream) reasoning += chunk.choices[0]?.delta?.reasoning_content ?? "";
    }, OpenAI);
    seen.chatReasoning = reasoning;
    const events = [];
    seen.responses = await failure(async () => {
      const stream = openai().responses.stream({
        model: MODEL, input: "FAIL_MIDWAY", reasoning: { effort: "low" } });
      for await (const event of stream) events.push(event.type);
    }, OpenAI);
    seen.responsesEvents = events;
    let thinking = "";
    seen.messages = await failure(async () => {
      const stream = anthropic().messages.stream({
        model: MODEL, max_tokens: 1000, messages: failing,
        thinking: { type: "enabled", budget_tokens: 500 } });
      stream.on("thinking", (delta) => { thinking += delta; });
      await stream.finalMessage();
    }, Anthropic);
    seen.messagesThinking = thinking;
    return seen;
  },

  async "messages-tools"() {
    const client = anthropic();
    const tools = [{ name: "get_weather", description: "The weather in a city",
                     input_schema: { type: "object", properties: { city: { type: "string" } } } }];
    const messages = [{ role: "user", content: "Weather in Paris?" }];
    const stream = client.messages.stream({ model: MODEL, max_tokens: 1000, tools, messages });
    const jsonDeltas = [];
    stream.on("inputJson", (delta) => jsonDeltas.push(delta));
    const called = await stream.finalMessage();
    const use = called.content.find((block) => block.type === "tool_use");
    const answered = await client.messages.create({
      model: MODEL, max_tokens: 1000, tools, messages: [
        ...messages, { role: "assistant", content: called.content },
        { role: "user", content: [{ type: "tool_result", tool_use_id: use.id,
                                    content: "sunny" }] }] });
    return {
      stop: called.stop_reason, use: { name: use.name, input: use.input, id: use.id },
      jsonDeltas, answer: answered.content.filter((b) => b.type === "text").map((b) => b.text),
      answerStop: answered.stop_reason,
    };
  },

  async "openai-errors"() {
    const bad = openai({ apiKey: "wrong-key" });
    return {
      unauthorized: await failure(() => bad.chat.completions.create(
        { model: MODEL, messages: QUESTION }), OpenAI),
      invalid: await failure(() => openai().chat.completions.create(
        { model: MODEL, messages: QUESTION, temperature: 7 }), OpenAI),
      unsupported: await failure(() => openai().chat.completions.create(
        { model: MODEL, messages: QUESTION, logit_bias: { 1: 5 } }), OpenAI),
      responses: await failure(() => openai().responses.create(
        { model: MODEL, input: "hi", temperature: 7 }), OpenAI),
      missing: await failure(() => openai().models.retrieve("no-such-model"), OpenAI),
      upstream: await failure(() => openai().chat.completions.create(
        { model: MODEL, messages: [{ role: "user", content: "FAIL_MIDWAY" }] }), OpenAI),
    };
  },

  async "anthropic-errors"() {
    const bad = anthropic({ apiKey: "wrong-key" });
    return {
      unauthorized: await failure(() => bad.messages.create(
        { model: MODEL, max_tokens: 10, messages: QUESTION }), Anthropic),
      invalid: await failure(() => anthropic().messages.create(
        { model: MODEL, max_tokens: 10, messages: QUESTION,
          thinking: { type: "enabled", budget_tokens: 500 } }), Anthropic),
      upstream: await failure(() => anthropic().messages.create(
        { model: MODEL, max_tokens: 10, messages: [{ role: "user", content: "FAIL_MIDWAY" }] }),
        Anthropic),
    };
  },

  // The request ids the SDKs read from the headers (openai: x-request-id, anthropic:
  // request-id), on answers and on errors.
  async "request-ids"() {
    const completion = await openai().chat.completions.create({ model: MODEL, messages: QUESTION });
    const { data: response, request_id: responseRequestId } = await openai().responses
      .create({ model: MODEL, input: "How many apples?" }).withResponse();
    const message = await anthropic().messages.create(
      { model: MODEL, max_tokens: 64, messages: QUESTION });
    const requestIdOf = async (call) => {
      try {
        await call();
      } catch (error) {
        return error.requestID ?? null;
      }
      throw new Error("the call succeeded where an error was expected");
    };
    return {
      chat: { id: completion.id, requestId: completion._request_id ?? null },
      responses: { id: response.id, requestId: responseRequestId ?? null },
      messages: { id: message.id, requestId: message._request_id ?? null },
      errors: [
        await requestIdOf(() => openai({ apiKey: "wrong-key" }).chat.completions.create(
          { model: MODEL, messages: QUESTION })),
        await requestIdOf(() => anthropic().messages.create(
          { model: MODEL, max_tokens: 0, messages: QUESTION })),
      ],
    };
  },

  // Against a server that admits nothing: every POST is a 429 with Retry-After.
  async "busy"() {
    const retries = Number(process.env.THINKSWITCH_RETRIES ?? "0");
    const started = Date.now();
    const chat = await failure(() => openai({ maxRetries: retries }).chat.completions.create(
      { model: MODEL, messages: QUESTION }), OpenAI);
    const chatSeconds = (Date.now() - started) / 1000;
    const messages = await failure(() => anthropic().messages.create(
      { model: MODEL, max_tokens: 10, messages: QUESTION }), Anthropic);
    return { chat, chatSeconds, messages };
  },
};

const name = process.argv[2];
if (!(name in scenarios)) {
  console.error(`unknown scenario ${name}; known: ${Object.keys(scenarios).join(", ")}`);
  process.exit(2);
}
try {
  process.stdout.write(JSON.stringify(await scenarios[name]()));
} catch (error) {
  console.error(`${name}: ${error.constructor.name}: ${error.message}\n${error.stack}`);
  process.exit(1);
}
