// The app's state as JSON, for scripted tests (`dump FILE`): what the screens would show,
// read from the model — connection, user, conversations, and each bubble's kind, text or
// file, status and transfer progress.
#pragma once

#include <string>

#include "gui/model/model.h"

namespace ferry::gui {

std::string state_dump_json(const AppModel& model);

}  // namespace ferry::gui
