#include "plots.hpp"

#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include <fernet/atomic_file.hpp>

namespace fernet::app {
namespace {

struct Rgb {
  double r, g, b;
};
constexpr Rgb black{0, 0, 0}, grid{0.88, 0.88, 0.88}, blue{0.12, 0.47, 0.71}, orange{1.0, 0.50, 0.05};
constexpr Rgb palette[] = {blue, orange, {0.17, 0.63, 0.17}, {0.84, 0.15, 0.16}, {0.58, 0.40, 0.74}, {0.55, 0.34, 0.29}};

class Canvas {
 public:
  Canvas(int w, int h) : surface_(cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h)), cr_(cairo_create(surface_)) {
    cairo_set_source_rgb(cr_, 1, 1, 1);
    cairo_paint(cr_);
    cairo_select_font_face(cr_, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  }
  ~Canvas() {
    cairo_destroy(cr_);
    cairo_surface_destroy(surface_);
  }
  Canvas(const Canvas&) = delete;
  Canvas& operator=(const Canvas&) = delete;
  cairo_t* cr() const { return cr_; }

  void colour(Rgb c) const { cairo_set_source_rgb(cr_, c.r, c.g, c.b); }

  // Text anchored at (x, y): ax 0/0.5/1 = left/centre/right, ay 0/0.5/1 = top/middle/baseline-ish
  // bottom; rotated by angle (radians) around the anchor.
  void text(const std::string& s, double x, double y, double size, double ax, double ay, bool bold = false,
            double angle = 0, Rgb c = black) const {
    cairo_save(cr_);
    cairo_select_font_face(cr_, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr_, size);
    cairo_text_extents_t e;
    cairo_text_extents(cr_, s.c_str(), &e);
    cairo_font_extents_t fe;
    cairo_font_extents(cr_, &fe);
    cairo_translate(cr_, x, y);
    cairo_rotate(cr_, angle);
    const double height = fe.ascent;  // cap height is close to the ascent for these labels
    cairo_move_to(cr_, -e.x_advance * ax, height * (1 - ay) - 1);
    colour(c);
    cairo_show_text(cr_, s.c_str());
    cairo_restore(cr_);
  }

  void line(double x0, double y0, double x1, double y1, Rgb c, double width = 1) const {
    colour(c);
    cairo_set_line_width(cr_, width);
    cairo_move_to(cr_, x0, y0);
    cairo_line_to(cr_, x1, y1);
    cairo_stroke(cr_);
  }

  void save(const std::string& path) const {
    cairo_surface_flush(surface_);
    write_file_atomically(path, [&](std::FILE* f) {
      const auto status = cairo_surface_write_to_png_stream(
          surface_,
          [](void* closure, const unsigned char* data, unsigned int length) {
            return std::fwrite(data, 1, length, static_cast<std::FILE*>(closure)) == length ? CAIRO_STATUS_SUCCESS
                                                                                            : CAIRO_STATUS_WRITE_ERROR;
          },
          f);
      if (status != CAIRO_STATUS_SUCCESS)
        throw IoError("cannot write '" + path + "': " + cairo_status_to_string(status));
    });
  }

 private:
  cairo_surface_t* surface_;
  cairo_t* cr_;
};

double nice_step(double range, int target) {
  if (!(range > 0)) return 1;
  const double raw = range / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

std::string format_tick(double v, double step) {
  char buf[32];
  const int decimals = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  std::snprintf(buf, sizeof buf, "%.*f", std::clamp(decimals, 0, 6), std::abs(v) < step * 1e-6 ? 0.0 : v);
  return buf;
}

struct Series {
  std::string name;
  std::vector<double> values;  // NaN: no point
  Rgb colour;
  bool squares;
  std::vector<double> xs = {};  // its own x values (runs of different lengths); empty: the panel's
};

void panel(const Canvas& cv, double x, double y, double w, double h, const std::string& title,
           const std::string& ylabel, const std::vector<double>& epochs, const std::string& xlabel, bool whole_x,
           const std::vector<Series>& series, bool unit_range) {
  cairo_t* cr = cv.cr();
  const double px0 = x + 78, px1 = x + w - 22, py0 = y + 42, py1 = y + h - 56;

  double xlo = INFINITY, xhi = -INFINITY;
  for (const auto& s : series)
    for (double v : s.xs.empty() ? epochs : s.xs) xlo = std::min(xlo, v), xhi = std::max(xhi, v);
  if (!std::isfinite(xlo)) xlo = 0, xhi = 1;
  if (xhi <= xlo) xlo -= 1, xhi += 1;
  double ylo = INFINITY, yhi = -INFINITY;
  for (const auto& s : series)
    for (double v : s.values)
      if (std::isfinite(v)) ylo = std::min(ylo, v), yhi = std::max(yhi, v);
  if (!std::isfinite(ylo)) ylo = 0, yhi = 1;
  if (yhi - ylo < 1e-9) {
    const double pad = std::max(0.01, std::abs(ylo) * 0.05);
    ylo -= pad, yhi += pad;
  }
  const double ystep = nice_step(yhi - ylo, 5);
  ylo = std::floor(ylo / ystep) * ystep;
  yhi = std::ceil(yhi / ystep) * ystep;
  if (unit_range) ylo = std::max(0.0, ylo), yhi = std::min(1.0, yhi);
  if (yhi <= ylo) yhi = ylo + ystep;
  const double xpad = 0.03 * (xhi - xlo);
  const double xa = xlo - xpad, xb = xhi + xpad;
  auto X = [&](double v) { return px0 + (v - xa) / (xb - xa) * (px1 - px0); };
  auto Y = [&](double v) { return py1 - (v - ylo) / (yhi - ylo) * (py1 - py0); };

  // Grid and y ticks.
  for (double v = ylo; v <= yhi + ystep * 1e-6; v += ystep) {
    cv.line(px0, Y(v), px1, Y(v), grid);
    cv.line(px0 - 5, Y(v), px0, Y(v), black);
    cv.text(format_tick(v, ystep), px0 - 8, Y(v), 12, 1, 0.5);
  }
  // x ticks: whole epochs, or round numbers of minutes.
  const double xstep = whole_x ? std::max(1.0, nice_step(xhi - xlo, 8)) : nice_step(xhi - xlo, 6);
  for (double v = std::ceil(xlo / xstep) * xstep; v <= xhi + 1e-9; v += xstep) {
    if (v < xlo - 1e-9) continue;
    cv.line(X(v), py1, X(v), py1 + 5, black);
    cv.text(format_tick(v, whole_x ? 1 : xstep), X(v), py1 + 8, 12, 0.5, 0);
  }
  // Axes box.
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_set_line_width(cr, 1.2);
  cairo_rectangle(cr, px0, py0, px1 - px0, py1 - py0);
  cairo_stroke(cr);

  // Series.
  cairo_save(cr);
  cairo_rectangle(cr, px0, py0, px1 - px0, py1 - py0);
  cairo_clip(cr);
  for (const auto& s : series) {
    const std::vector<double>& xs = s.xs.empty() ? epochs : s.xs;
    cv.colour(s.colour);
    cairo_set_line_width(cr, 2.2);
    bool pen = false;
    for (std::size_t i = 0; i < s.values.size(); ++i) {
      if (!std::isfinite(s.values[i])) {
        pen = false;
        continue;
      }
      if (pen) cairo_line_to(cr, X(xs[i]), Y(s.values[i]));
      else cairo_move_to(cr, X(xs[i]), Y(s.values[i]));
      pen = true;
    }
    cairo_stroke(cr);
    if (s.values.size() <= 60)  // markers while they stay readable
      for (std::size_t i = 0; i < s.values.size(); ++i) {
        if (!std::isfinite(s.values[i])) continue;
        if (s.squares) cairo_rectangle(cr, X(xs[i]) - 3.5, Y(s.values[i]) - 3.5, 7, 7);
        else cairo_arc(cr, X(xs[i]), Y(s.values[i]), 4, 0, 2 * M_PI);
        cairo_fill(cr);
      }
  }
  cairo_restore(cr);

  // Labels and legend.
  cv.text(title, px0, y + 14, 15, 0, 0.5, true);
  cv.text(xlabel, (px0 + px1) / 2, py1 + 30, 13, 0.5, 0);
  cv.text(ylabel, x + 18, (py0 + py1) / 2, 13, 0.5, 0.5, false, -M_PI / 2);
  double lx = px1;
  for (auto it = series.rbegin(); it != series.rend(); ++it) {
    cairo_set_font_size(cr, 12);
    cairo_text_extents_t e;
    cairo_text_extents(cr, it->name.c_str(), &e);
    lx -= e.x_advance;
    cv.text(it->name, lx, y + 14, 12, 0, 0.5);
    lx -= 8;
    cv.line(lx - 24, y + 14, lx, y + 14, it->colour, 2.2);
    cv.colour(it->colour);
    if (it->squares) cairo_rectangle(cr, lx - 12 - 3.5, y + 14 - 3.5, 7, 7);
    else cairo_arc(cr, lx - 12, y + 14, 4, 0, 2 * M_PI);
    cairo_fill(cr);
    lx -= 24 + 18;
  }
}

}  // namespace

void plot_curves(const std::string& path, const std::vector<EpochRecord>& history, const std::string& title,
                 const std::string& eval_name) {
  const int w = 1650, h = 500, header = 36;
  Canvas cv(w, h);
  cv.text(title, w / 2.0, 20, 16, 0.5, 0.5, true);
  if (history.empty()) {
    cv.text("no completed epoch yet", w / 2.0, h / 2.0, 14, 0.5, 0.5);
    cv.save(path);
    return;
  }
  std::vector<double> epochs, minutes;  // time to accuracy: the third panel's x is the wall clock
  Series tl{"training", {}, blue, false}, el{eval_name, {}, orange, true};
  Series ta{"training", {}, blue, false}, ea{eval_name, {}, orange, true};
  for (const auto& r : history) {
    epochs.push_back(r.epoch);
    minutes.push_back(r.elapsed_seconds / 60);
    tl.values.push_back(r.train_loss);
    el.values.push_back(r.test_loss);
    ta.values.push_back(r.train_accuracy);
    ea.values.push_back(r.test_accuracy);
  }
  const double pw = w / 3.0;
  panel(cv, 0, header, pw, h - header, "Loss", "loss (mean per image)", epochs, "epoch", true, {tl, el}, false);
  panel(cv, pw, header, pw, h - header, "Accuracy", "accuracy", epochs, "epoch", true, {ta, ea}, true);
  panel(cv, 2 * pw, header, pw, h - header, "Time to accuracy", "accuracy", minutes,
        "wall-clock minutes (training and evaluation)", false, {ta, ea}, true);
  cv.save(path);
}

void plot_runs(const std::string& path, const std::vector<NamedHistory>& runs, const std::string& eval_name) {
  const int w = 1300, h = 520, header = 36;
  Canvas cv(w, h);
  cv.text(eval_name + " accuracy of each run, against epochs and against wall-clock time", w / 2.0, 20, 16, 0.5, 0.5,
          true);
  std::vector<Series> by_epoch, by_time;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const Rgb c = palette[i % std::size(palette)];
    Series e{runs[i].name, {}, c, i % 2 == 1}, t{runs[i].name, {}, c, i % 2 == 1};
    for (const auto& r : runs[i].history) {
      e.xs.push_back(r.epoch);
      t.xs.push_back(r.elapsed_seconds / 60);
      e.values.push_back(r.test_accuracy);
      t.values.push_back(r.test_accuracy);
    }
    by_epoch.push_back(std::move(e));
    by_time.push_back(std::move(t));
  }
  const double pw = w / 2.0;
  panel(cv, 0, header, pw, h - header, "By epoch", "accuracy", {}, "epoch", true, by_epoch, true);
  panel(cv, pw, header, pw, h - header, "Time to accuracy", "accuracy", {},
        "wall-clock minutes (training and evaluation)", false, by_time, true);
  cv.save(path);
}

void plot_confusion(const std::string& path, const ConfusionMatrix& m, const std::vector<std::string>& classes,
                    const std::string& title) {
  const int k = m.classes();
  const double cell = 76, left = 124, top = 78, right = 120, bottom = 74;
  const int w = static_cast<int>(left + k * cell + right), h = static_cast<int>(top + k * cell + bottom);
  Canvas cv(w, h);
  cairo_t* cr = cv.cr();
  cv.text(title, w / 2.0, 24, 16, 0.5, 0.5, true);
  cv.text("colour: share of the true class (row); numbers: images", w / 2.0, 48, 12, 0.5, 0.5, false, 0,
          Rgb{0.3, 0.3, 0.3});
  const Rgb lo{0.97, 0.98, 1.0}, hi{0.03, 0.19, 0.42};
  auto shade = [&](double f) {
    return Rgb{lo.r + (hi.r - lo.r) * f, lo.g + (hi.g - lo.g) * f, lo.b + (hi.b - lo.b) * f};
  };
  for (int t = 0; t < k; ++t) {
    const long support = m.support(t);
    for (int p = 0; p < k; ++p) {
      const double f = support ? static_cast<double>(m.at(t, p)) / support : 0.0;
      const double x = left + p * cell, y = top + t * cell;
      cv.colour(shade(f));
      cairo_rectangle(cr, x, y, cell, cell);
      cairo_fill(cr);
      const Rgb ink = f > 0.5 ? Rgb{1, 1, 1} : black;
      cv.text(std::to_string(m.at(t, p)), x + cell / 2, y + cell / 2 - 7, 16, 0.5, 0.5, t == p, 0, ink);
      char pct[16];
      std::snprintf(pct, sizeof pct, "%.0f%%", 100 * f);
      cv.text(pct, x + cell / 2, y + cell / 2 + 14, 11, 0.5, 0.5, false, 0, ink);
    }
  }
  // Cell borders and the frame.
  cairo_set_line_width(cr, 1);
  cairo_set_source_rgb(cr, 0.75, 0.75, 0.75);
  for (int i = 1; i < k; ++i) {
    cairo_move_to(cr, left + i * cell, top);
    cairo_line_to(cr, left + i * cell, top + k * cell);
    cairo_move_to(cr, left, top + i * cell);
    cairo_line_to(cr, left + k * cell, top + i * cell);
  }
  cairo_stroke(cr);
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_set_line_width(cr, 1.2);
  cairo_rectangle(cr, left, top, k * cell, k * cell);
  cairo_stroke(cr);
  for (int i = 0; i < k; ++i) {
    const std::string name = i < static_cast<int>(classes.size()) ? classes[i] : std::to_string(i);
    cv.text(name, left - 8, top + i * cell + cell / 2, 13, 1, 0.5);
    cv.text(name, left + i * cell + cell / 2, top + k * cell + 8, 13, 0.5, 0);
  }
  cv.text("predicted class", left + k * cell / 2, top + k * cell + 40, 14, 0.5, 0, true);
  cv.text("true class", 22, top + k * cell / 2, 14, 0.5, 0.5, true, -M_PI / 2);

  // Colour bar.
  const double bx = left + k * cell + 30, bw = 22, by = top, bh = k * cell;
  for (int i = 0; i < static_cast<int>(bh); ++i) {
    cv.colour(shade(1.0 - i / bh));
    cairo_rectangle(cr, bx, by + i, bw, 1.5);
    cairo_fill(cr);
  }
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, bx, by, bw, bh);
  cairo_stroke(cr);
  for (int pct = 0; pct <= 100; pct += 25) {
    const double y = by + bh * (1 - pct / 100.0);
    cv.line(bx + bw, y, bx + bw + 4, y, black);
    cv.text(std::to_string(pct) + "%", bx + bw + 7, y, 11, 0, 0.5);
  }
  cv.save(path);
}

}  // namespace fernet::app
