// Projects (thumbnail briefs), rendering jobs with live progress, and the project's chat.

import { del, get, idempotencyKey, itemsOf, patch, post, setUser } from "../api.js";
import { field, formData, h, plural, replace, when } from "../dom.js";
import { flash, navigate, onLeave } from "../main.js";
import { followEvents } from "../sse.js";
import { errorBox, onSubmit, page, section, showError } from "./ui.js";

export const PLATFORMS = [
  { value: "youtube", label: "YouTube", size: [1280, 720] },
  { value: "youtube_shorts", label: "YouTube Shorts", size: [1080, 1920] },
  { value: "instagram_post", label: "Instagram post", size: [1080, 1080] },
  { value: "instagram_story", label: "Instagram story", size: [1080, 1920] },
  { value: "tiktok", label: "TikTok", size: [1080, 1920] },
  { value: "twitter", label: "X / Twitter", size: [1600, 900] },
  { value: "linkedin", label: "LinkedIn", size: [1200, 627] },
  { value: "custom", label: "Custom size", size: null },
];
const QUALITIES = [
  { value: "draft", label: "Draft" },
  { value: "std", label: "Standard" },
  { value: "4k", label: "4K" },
];
const FINAL = new Set(["succeeded", "done", "failed", "canceled", "deleted"]);

function platformLabel(value) {
  const found = PLATFORMS.find((p) => p.value === value);
  return found ? found.label : value;
}

function title(project) {
  return project.headline || "Untitled project";
}

async function refreshBalance() {
  try {
    const balance = await get("credits/balance");
    const me = await get("auth/me");
    setUser({ ...me, credits: balance.credits });
  } catch {
    // The header count is a convenience; the credits page reads the real figure.
  }
}

// ---------------------------------------------------------------- projects list

export async function projects(main) {
  const result = await get("projects?limit=50");
  const list = itemsOf(result);
  page(main, "Your projects",
    h("p", {}, h("a", { href: "/projects/new", "data-link": true, class: "button primary" }, "New project")),
    list.length
      ? h("ul", { class: "grid cards" }, list.map((project) =>
        h("li", { class: "card" },
          h("h2", {}, h("a", { href: `/projects/${project.id}`, "data-link": true }, title(project))),
          h("p", { class: "muted" }, `${platformLabel(project.platform)} · ${project.width}×${project.height} · ${project.status}`),
          h("p", { class: "muted small" }, `Updated ${when(project.updated_at)}`))))
      : h("p", { class: "empty" }, "No projects yet. Start one to describe your first thumbnail."));
}

// ---------------------------------------------------------------- new project

function assetPicker(legend, name, assets, selected = []) {
  if (!assets.length) {
    return h("fieldset", { class: "picker" }, h("legend", {}, legend),
      h("p", { class: "muted" }, "None uploaded yet. ", h("a", { href: "/assets", "data-link": true }, "Upload images")));
  }
  return h("fieldset", { class: "picker" }, h("legend", {}, legend),
    h("div", { class: "thumbs" }, assets.map((asset) => {
      const id = `${name}-${asset.id}`;
      return h("div", { class: "thumb-option" },
        h("input", { type: "checkbox", id, name, value: asset.id, checked: selected.includes(asset.id) }),
        h("label", { for: id }, h("img", { src: asset.url, alt: `${asset.type} image, ${asset.width}×${asset.height}`, loading: "lazy" })));
    })));
}

function briefFields(project = {}) {
  const platform = project.platform || "youtube";
  const custom = h("div", { class: "row", hidden: platform !== "custom" },
    field("Width (px)", { name: "width", type: "number", min: 256, max: 4096, value: project.width || 1280, inputmode: "numeric" }),
    field("Height (px)", { name: "height", type: "number", min: 256, max: 4096, value: project.height || 720, inputmode: "numeric" }));
  const select = field("Platform", { name: "platform" }, {
    control: "select",
    options: PLATFORMS.map((p) => ({ value: p.value, selected: p.value === platform, label: p.size ? `${p.label} (${p.size[0]}×${p.size[1]})` : p.label })),
  });
  select.querySelector("select").addEventListener("change", (event) => {
    custom.hidden = event.target.value !== "custom";
  });
  return [
    select,
    custom,
    field("Headline", { name: "headline", maxlength: 200, value: project.headline || "" }, { hint: "The big words on the thumbnail." }),
    field("Subtext", { name: "subtext", maxlength: 300, value: project.subtext || "" }),
    field("Vibe", { name: "vibe", maxlength: 100, value: project.vibe || "", placeholder: "bold, neon, playful…" }),
  ];
}

function briefBody(form) {
  const data = formData(form);
  const body = {
    platform: data.platform,
    headline: data.headline,
    subtext: data.subtext || null,
    vibe: data.vibe || null,
  };
  if (data.platform === "custom") {
    body.width = Number(data.width);
    body.height = Number(data.height);
  }
  return body;
}

function checked(form, name) {
  return [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((input) => input.value);
}

export async function newProject(main) {
  const assets = itemsOf(await get("assets?limit=100"));
  const box = errorBox();
  const form = h("form", { class: "stack", novalidate: true },
    ...briefFields(),
    assetPicker("Selfies to feature", "selfie", assets.filter((a) => a.type === "selfie")),
    assetPicker("Reference images", "ref", assets.filter((a) => a.type === "ref")),
    box,
    h("button", { type: "submit", class: "primary" }, "Create project"));
  onSubmit(form, box, async () => {
    const body = { mode: "design", ...briefBody(form), selfie_asset_ids: checked(form, "selfie"), ref_asset_ids: checked(form, "ref") };
    const project = await post("projects", body);
    flash("Project created.");
    navigate(`/projects/${project.id}`, { replaceState: true });
  });
  page(main, "New project", form);
}

// ---------------------------------------------------------------- renders and live jobs

function renderFigure(jobId, render) {
  return h("figure", { class: "render" },
    h("img", { src: render.url, alt: `Render, variant ${render.variant + 1}`, width: render.width, height: render.height, loading: "lazy" }),
    h("figcaption", {},
      h("span", {}, `Variant ${render.variant + 1} · ${render.width}×${render.height}`),
      h("a", { href: render.url, download: `mugshot-${jobId.slice(0, 8)}-${render.variant + 1}`, class: "button small" }, "Download")));
}

// A panel that follows one job over its event stream, adding renders as they land.
export function liveJob(job, { onEnd } = {}) {
  const status = h("p", { class: "job-status", role: "status", "aria-live": "polite" }, `Status: ${job.status}`);
  const bar = h("progress", { max: 100, value: job.progress || 0, "aria-label": "Job progress" });
  const grid = h("div", { class: "grid renders", "aria-live": "polite" });
  const box = errorBox();
  const seen = new Set();
  for (const render of job.renders || []) {
    seen.add(render.variant);
    grid.append(renderFigure(job.id, render));
  }
  const cancel = h("button", {
    type: "button",
    onclick: async () => {
      try {
        await post(`jobs/${job.id}/cancel`);
      } catch (error) {
        showError(box, error);
      }
    },
  }, "Cancel job");
  const panel = h("div", { class: "live-job", "data-job": job.id },
    h("p", { class: "muted small" }, `Job ${job.id.slice(0, 8)} · ${job.model} · ${job.quality} · ${plural(job.variants, "variant")} · ${plural(job.cost_credits, "credit")}`),
    status, bar, box, grid, cancel);

  const end = (state) => {
    cancel.hidden = true;
    status.textContent = `Status: ${state.status}${state.error ? ` — ${state.error}` : ""}`;
    panel.dataset.state = state.status;
    if (onEnd) onEnd(state);
  };

  if (FINAL.has(job.status)) {
    end(job);
    return { panel, close() {} };
  }
  const stream = followEvents(`jobs/${job.id}/events`, {
    onEvent(type, data) {
      if (type === "render" && !seen.has(data.variant)) {
        seen.add(data.variant);
        grid.append(renderFigure(job.id, data));
      } else if (type === "status" || type === "end") {
        bar.value = data.progress ?? bar.value;
        status.textContent = `Status: ${data.status} · ${data.progress ?? 0}%`;
        if (type === "end") {
          bar.value = data.status === "deleted" ? bar.value : 100;
          end(data);
        }
      }
    },
    onError(error) {
      showError(box, error);
    },
  });
  onLeave(stream.close);
  return { panel, close: stream.close };
}

// ---------------------------------------------------------------- one project

function modelOptions(models, preferred) {
  const chosen = preferred || (models.find((m) => m.available) || {}).id;
  return models.map((model) => ({
    value: model.id,
    selected: model.id === chosen,
    disabled: !model.available,
    label: `${model.label} — ${plural(model.credits_per_image, "credit")}/image${model.available ? "" : " (unavailable here)"}`,
  }));
}

function jobForm(project, models, onJob) {
  const box = errorBox();
  const cost = h("p", { class: "cost", "aria-live": "polite" });
  const modelField = field("Model", { name: "model" }, { control: "select", options: modelOptions(models, project.model_pref) });
  modelField.classList.add("wide");
  const qualityField = field("Quality", { name: "quality" }, { control: "select", options: QUALITIES.map((q) => ({ ...q, selected: q.value === "std" })) });
  const variantsField = field("Variants", { name: "variants", type: "number", min: 1, max: 4, value: 1, inputmode: "numeric" });
  const about = h("p", { class: "muted small" });
  const form = h("form", { class: "stack", novalidate: true },
    h("div", { class: "row" }, modelField, qualityField, variantsField), about, cost, box,
    h("button", { type: "submit", class: "primary" }, "Render"));
  const update = () => {
    const data = formData(form);
    const model = models.find((m) => m.id === data.model);
    if (!model) return;
    const perImage = model.cost_by_quality[data.quality] ?? model.credits_per_image;
    const variants = Number(data.variants) || 1;
    const total = perImage * variants;
    cost.textContent = `Cost: ${plural(total, "credit")} (${perImage} per image × ${variants}).`;
    about.textContent = model.description;
  };
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
  onSubmit(form, box, async () => {
    const data = formData(form);
    const created = await post("jobs", {
      project_id: project.id,
      model: data.model,
      quality: data.quality,
      variants: Number(data.variants),
    }, { headers: { "Idempotency-Key": idempotencyKey() } });
    refreshBalance();
    onJob(await get(`jobs/${created.id}`));
  });
  return form;
}

async function findChat(projectId) {
  const chats = itemsOf(await get("chat?limit=100"));
  return chats.find((chat) => chat.project_id === projectId) || null;
}

function messageItem(message) {
  const who = message.sender === "user" ? "You" : "Studio";
  return h("li", { class: `message ${message.sender}` },
    h("p", { class: "who" }, who, h("span", { class: "muted small" }, ` · ${when(message.created_at)}`)),
    h("p", { class: "text" }, message.content),
    message.job_id ? h("p", { class: "small" }, h("a", { href: `/jobs/${message.job_id}`, "data-link": true }, "Open the job")) : null);
}

function chatPanel(project, onJob, onProject) {
  const list = h("ol", { class: "messages", "aria-live": "polite" });
  const box = errorBox();
  let chat = null;
  const load = async () => {
    chat = await findChat(project.id);
    if (!chat) {
      replace(list, h("li", { class: "muted" }, "No messages yet. Say what to change: “headline: Big News”, “make it bolder”…"));
      return;
    }
    const messages = itemsOf(await get(`chat/${chat.id}/messages?limit=100`));
    replace(list, messages.map(messageItem));
  };
  const form = h("form", { class: "stack", novalidate: true },
    field("Message", { name: "content", rows: 3, maxlength: 4000, required: true }, { control: "textarea" }),
    h("div", { class: "check" },
      h("input", { type: "checkbox", id: "chat-generate", name: "generate", value: "yes" }),
      h("label", { for: "chat-generate" }, "Render after applying the changes")),
    box,
    h("button", { type: "submit", class: "primary" }, "Send"));
  onSubmit(form, box, async () => {
    const data = formData(form);
    if (!chat) chat = await post("chat/new", { project_id: project.id, session_name: title(project).slice(0, 80) });
    const id = chat.chat_id || chat.id;
    const result = await post(`chat/${id}/messages`, { content: data.content, sender: "user", generate: data.generate === "yes" });
    // Either {message, reply, job} or the message itself carrying `reply` and `job`.
    const message = result.message || result;
    if (list.querySelector("li.muted")) replace(list);
    list.append(messageItem(message));
    if (result.reply) list.append(messageItem(result.reply));
    form.reset();
    onProject();
    if (result.job) {
      refreshBalance();
      onJob(await get(`jobs/${result.job.id}`));
    }
  });
  return { panel: h("div", {}, list, form), load };
}

export async function project(main, params, _query, context) {
  const id = params.id;
  let current = await get(`projects/${id}`);
  const [models, assets] = await Promise.all([get("models"), get("assets?limit=100").then(itemsOf)]);
  if (!context.isCurrent()) return;

  const live = h("div", { class: "stack" });
  const history = h("div", { class: "stack" });
  const heading = h("h1", {}, title(current));
  const summary = h("p", { class: "muted" });
  const showSummary = () => {
    heading.textContent = title(current);
    summary.textContent = `${platformLabel(current.platform)} · ${current.width}×${current.height} · status ${current.status}`;
  };
  showSummary();

  const loadJobs = async () => {
    const jobs = itemsOf(await get(`projects/${id}/jobs?limit=20`));
    replace(history, jobs.length
      ? h("ul", { class: "jobs" }, jobs.map((job) =>
        h("li", { class: "job-row" },
          h("p", {}, h("a", { href: `/jobs/${job.id}`, "data-link": true }, `${when(job.created_at)} · ${job.model} · ${job.status}`)),
          job.renders.length ? h("div", { class: "grid renders small" }, job.renders.map((r) => renderFigure(job.id, r))) : null)))
      : h("p", { class: "empty" }, "No renders yet."));
  };

  let following = null;
  const startLive = (job) => {
    // One stream per page: a new job's panel takes over from the last one.
    if (following) following.close();
    following = liveJob(job, {
      onEnd: async () => {
        current = await get(`projects/${id}`);
        showSummary();
        loadJobs();
        refreshBalance();
      },
    });
    replace(live, following.panel);
  };

  const reload = async () => {
    current = await get(`projects/${id}`);
    showSummary();
  };

  // The brief, editable in place.
  const briefBox = errorBox();
  const brief = h("form", { class: "stack", novalidate: true },
    ...briefFields(current),
    assetPicker("Selfies to feature", "selfie", assets.filter((a) => a.type === "selfie"), current.selfie_asset_ids),
    assetPicker("Reference images", "ref", assets.filter((a) => a.type === "ref"), current.ref_asset_ids),
    briefBox,
    h("div", { class: "row" },
      h("button", { type: "submit", class: "primary" }, "Save brief"),
      h("button", {
        type: "button",
        class: "danger",
        onclick: async () => {
          if (!window.confirm("Delete this project and its renders?")) return;
          try {
            await del(`projects/${id}`);
            flash("Project deleted.");
            navigate("/projects", { replaceState: true });
          } catch (error) {
            showError(briefBox, error);
          }
        },
      }, "Delete project")));
  onSubmit(brief, briefBox, async () => {
    current = await patch(`projects/${id}`, { ...briefBody(brief), selfie_asset_ids: checked(brief, "selfie"), ref_asset_ids: checked(brief, "ref") });
    showSummary();
    flash("Brief saved.");
  });

  const chat = chatPanel(current, startLive, reload);
  replace(main, heading, summary,
    h("div", { class: "columns" },
      h("div", { class: "stack" },
        section("Render", jobForm(current, models, startLive), live),
        section("Chat", chat.panel),
        section("Renders", history)),
      h("div", { class: "stack" }, section("Brief", brief))));
  await Promise.all([loadJobs(), chat.load()]);
}

// ---------------------------------------------------------------- one job, and chat links

export async function job(main, params) {
  const found = await get(`jobs/${params.id}`);
  const { panel } = liveJob(found, { onEnd: () => refreshBalance() });
  page(main, "Job",
    h("p", {}, h("a", { href: `/projects/${found.project_id}`, "data-link": true }, "Back to the project")),
    section("Progress", panel));
}

export async function chatLink(main, params) {
  const chat = await get(`chat/${params.id}`);
  if (chat.project_id) {
    navigate(`/projects/${chat.project_id}`, { replaceState: true });
    return;
  }
  page(main, chat.session_name || "Chat", h("p", {}, "This chat is not attached to a project."));
}


