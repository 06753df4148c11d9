// The profile, avatar, password, signed-in sessions and deleting the account.

import { del, endSession, get, patch, post, setUser } from "../api.js";
import { field, formData, h, replace, when } from "../dom.js";
import { flash, navigate } from "../main.js";
import { errorBox, notice, onSubmit, page, section, showError } from "./ui.js";

export async function profile(main) {
  const me = await get("profile");
  setUser(me);

  const avatar = h("img", { class: "avatar", alt: "Your profile photo", src: me.avatar_url || "", hidden: !me.avatar_url });
  const status = h("div", { role: "status" });

  const profileBox = errorBox();
  const details = h("form", { class: "stack", novalidate: true },
    field("Full name", { name: "full_name", value: me.full_name, autocomplete: "name", required: true }),
    field("Username", { name: "username", value: me.username, autocomplete: "username", required: true }),
    field("Date of birth", { name: "dob", type: "date", value: me.dob }),
    field("Bio", { name: "bio", maxlength: 500, rows: 3 }, { control: "textarea" }),
    profileBox,
    h("button", { type: "submit", class: "primary" }, "Save profile"));
  details.querySelector("textarea").value = me.bio || "";
  onSubmit(details, profileBox, async () => {
    const data = formData(details);
    const updated = await patch("profile", { full_name: data.full_name, username: data.username, dob: data.dob, bio: data.bio || null });
    setUser(updated);
    notice(status, "Profile saved.");
  });

  const avatarBox = errorBox();
  const avatarForm = h("form", { class: "stack", novalidate: true },
    field("New photo (PNG, JPEG or WebP)", { name: "file", type: "file", accept: "image/png,image/jpeg,image/webp", required: true }),
    avatarBox,
    h("button", { type: "submit" }, "Upload photo"));
  onSubmit(avatarForm, avatarBox, async () => {
    const input = avatarForm.querySelector("input[type=file]");
    if (!input.files.length) throw new Error("Choose an image file first.");
    const body = new FormData();
    body.append("file", input.files[0]);
    const updated = await post("profile/avatar", body);
    setUser(updated);
    avatar.src = updated.avatar_url;
    avatar.hidden = false;
    avatarForm.reset();
    notice(status, "Photo updated.");
  });

  const passwordBox = errorBox();
  const passwordForm = h("form", { class: "stack", novalidate: true },
    field("Current password", { name: "current_password", type: "password", autocomplete: "current-password", required: true }),
    field("New password", { name: "new_password", type: "password", autocomplete: "new-password", required: true }),
    field("Confirm new password", { name: "confirm_password", type: "password", autocomplete: "new-password", required: true }),
    passwordBox,
    h("button", { type: "submit" }, "Change password"));
  onSubmit(passwordForm, passwordBox, async () => {
    const result = await post("auth/change-password", formData(passwordForm));
    passwordForm.reset();
    notice(status, result.message);
  });

  const deleteBox = errorBox();
  const deleteForm = h("form", { class: "stack", novalidate: true },
    h("p", {}, "This deletes your account, projects, images and renders. It cannot be undone."),
    field("Password", { name: "password", type: "password", autocomplete: "current-password", required: true }),
    deleteBox,
    h("button", { type: "submit", class: "danger" }, "Delete my account"));
  onSubmit(deleteForm, deleteBox, async () => {
    if (!window.confirm("Delete your account for good?")) return;
    await del("profile", formData(deleteForm));
    endSession();
    flash("Your account was deleted.");
    navigate("/signin", { replaceState: true });
  });

  page(main, "Profile", status,
    h("div", { class: "columns" },
      h("div", { class: "stack" },
        section("Details", h("p", { class: "muted" }, `${me.email} · ${me.credits} credits · member since ${when(me.created_at)}`), details)),
      h("div", { class: "stack" },
        section("Photo", avatar, avatarForm),
        section("Password", passwordForm),
        section("Delete account", deleteForm))));
}

export async function sessions(main) {
  const list = h("ul", { class: "sessions" });
  const box = errorBox();
  const status = h("div", { role: "status" });
  const load = async () => {
    const rows = await get("auth/sessions");
    replace(list, rows.map((row) => h("li", { class: "card session" },
      h("p", {}, h("strong", {}, row.user_agent || "Unknown browser"), row.current ? h("span", { class: "badge" }, "This browser") : null),
      h("p", { class: "muted small" }, `Signed in ${when(row.created_at)} from ${row.ip} · last used ${when(row.last_used_at)}`),
      h("button", {
        type: "button",
        class: "danger small",
        "aria-label": row.current ? "Sign out this browser" : `Revoke the session from ${when(row.created_at)}`,
        onclick: async () => {
          try {
            await del(`auth/sessions/${row.id}`);
            if (row.current) {
              endSession();
              flash("This session was revoked. Sign in again.");
              navigate("/signin");
              return;
            }
            notice(status, "Session revoked.");
            await load();
          } catch (error) {
            showError(box, error);
          }
        },
      }, row.current ? "Sign out here" : "Revoke"))));
  };
  const others = h("button", {
    type: "button",
    onclick: async () => {
      try {
        const result = await del("auth/sessions");
        notice(status, `Revoked ${result.revoked} other session(s).`);
        await load();
      } catch (error) {
        showError(box, error);
      }
    },
  }, "Sign out everywhere else");
  page(main, "Sessions", h("div", { class: "stack" }, h("p", {}, "Where your account is signed in."), status, box, list, others));
  await load();
}
