// Uploading selfies and reference images, and deleting them.

import { del, get, itemsOf, post } from "../api.js";
import { field, h, replace, when } from "../dom.js";
import { errorBox, notice, onSubmit, page, section, showError } from "./ui.js";

const TYPES = [
  { value: "selfie", label: "Selfie (a photo of you)" },
  { value: "ref", label: "Reference (a style to follow)" },
  { value: "copy_target", label: "Thumbnail to copy" },
];

export async function assets(main) {
  const gallery = h("div", { class: "grid assets" });
  const status = h("div", { role: "status" });
  const listBox = errorBox();

  const load = async () => {
    const list = itemsOf(await get("assets?limit=100"));
    replace(gallery, list.length
      ? list.map((asset) => h("figure", { class: "asset" },
        h("img", { src: asset.url, alt: `${asset.type} image uploaded ${when(asset.created_at)}`, loading: "lazy" }),
        h("figcaption", {},
          h("span", {}, `${asset.type} · ${asset.width}×${asset.height}`),
          h("button", {
            type: "button",
            class: "danger small",
            "aria-label": `Delete ${asset.type} image uploaded ${when(asset.created_at)}`,
            onclick: async () => {
              if (!window.confirm("Delete this image?")) return;
              try {
                await del(`assets/${asset.id}`);
                notice(status, "Image deleted.");
                await load();
              } catch (error) {
                showError(listBox, error);
              }
            },
          }, "Delete"))))
      : h("p", { class: "empty" }, "No images yet."));
  };

  const box = errorBox();
  const form = h("form", { class: "stack", novalidate: true },
    field("Kind of image", { name: "type" }, { control: "select", options: TYPES }),
    field("Image file (PNG, JPEG or WebP)", { name: "file", type: "file", accept: "image/png,image/jpeg,image/webp", required: true }),
    box,
    h("button", { type: "submit", class: "primary" }, "Upload"));
  onSubmit(form, box, async () => {
    const input = form.querySelector("input[type=file]");
    if (!input.files.length) throw new Error("Choose an image file first.");
    const body = new FormData();
    body.append("type", form.querySelector("select").value);
    body.append("file", input.files[0]);
    const asset = await post("assets/upload", body);
    notice(status, `Uploaded a ${asset.type} image (${asset.width}×${asset.height}).`);
    form.reset();
    await load();
  });

  page(main, "Your images",
    section("Upload", form, status),
    section("Uploaded", listBox, gallery));
  await load();
}
